package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.worker.WorkerDrain;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Akka's shutdown phase that the HTTP and worker drains run in lasts as long as they may. */
class DrainTimeTest {

  private static Duration phaseTimeout(String settings) {
    Config c = TandemNode.withDrainTime(ConfigFactory.parseString(settings).withFallback(ConfigFactory.load()));
    return c.getDuration(TandemNode.DRAIN_PHASE_TIMEOUT);
  }

  @Test
  void theDefaultsFitTheDefaultPhaseTimeout() {
    assertEquals(Duration.ofSeconds(40), phaseTimeout(""));
  }

  @Test
  void aLongerHttpDeadlineOrWorkerDeadlineLengthensThePhaseInsteadOfBeingCutShortByIt() {
    assertEquals(Duration.ofSeconds(127), phaseTimeout("tandem.http.shutdown-deadline = 120s"));
    assertEquals(Duration.ofSeconds(65), phaseTimeout("tandem.worker.shutdown-deadline = 60s"));
    assertEquals(Duration.ofSeconds(90), phaseTimeout(
        "tandem.worker.shutdown-deadline = 60s\nakka.coordinated-shutdown.phases.service-requests-done.timeout = 90s"));
  }

  @Test
  void aNegativeWorkerDeadlineIsRefusedNamingTheKey() {
    RuntimeException e = assertThrows(RuntimeException.class,
        () -> WorkerDrain.deadline(ConfigFactory.parseString("tandem.worker.shutdown-deadline = -1s").withFallback(ConfigFactory.load())));
    assertTrue(e.getMessage().contains("tandem.worker.shutdown-deadline must be a duration from 0s up"), e.getMessage());
  }
}
