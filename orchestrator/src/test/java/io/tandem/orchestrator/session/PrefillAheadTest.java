package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code tandem.session.prefill-ahead}: while the small model writes, the session sends the large
 * worker the decided text, and the takeover then brings only what no prefill ahead brought.
 */
class PrefillAheadTest {
  private static final ScriptedCase CASE = ScriptedCase.example();
  /** Where the example's first takeover starts. */
  private static final int TAKEOVER_START = 17;

  private static SessionSettings settings(boolean ahead) {
    return new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4).withPrefillAhead(ahead);
  }

  /** Where a request leaves the worker's view: its base (0 for a new one) plus the tokens it appends. */
  private static int target(WorkerProtocol.Generate g) {
    int n = Math.max(0, g.basePosition());
    for (Chunk c : g.append()) n += c.tokens().size();
    return n;
  }

  /**
   * A real small worker and a probe as the only large worker; runs the example and returns the
   * large worker's requests up to the first takeover, answering each prefill ahead when {@code
   * answer} (with an empty {@link WorkerProtocol.Done}) and never otherwise.
   */
  private static List<WorkerProtocol.Generate> upToTheFirstTakeover(boolean ahead, boolean answer) throws Exception {
    return upToTheFirstTakeover(ahead, answer ? Answer.DONE : Answer.NONE);
  }

  /** How the large worker (a probe) answers a prefill ahead. */
  private enum Answer { DONE, NONE, REFUSED }

  private static List<WorkerProtocol.Generate> upToTheFirstTakeover(boolean ahead, Answer answer) throws Exception {
    try (World w = new World(ConfigFactory.empty(), settings(ahead))) {
      // The small model's first pass waits for the first prefill ahead to be answered: the session
      // then knows what the large worker holds when the small model reaches its first trigger.
      GatedModel small = new GatedModel("small", CASE.small(), 0);
      w.worker(Role.small, "small", small);
      if (!ahead) small.open.countDown();
      TestProbe<WorkerProtocol.Command> large = w.kit.createTestProbe();
      w.kit.system().receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), large.getRef()));
      w.awaitListed(Role.large, 1);
      CompletableFuture<SessionEvent> end = w.run(w.request(CASE.config(), false), null);
      List<WorkerProtocol.Generate> seen = new ArrayList<>();
      while (true) {
        // The directory's load polls (GetStats) are not the session's.
        WorkerProtocol.Command m = large.receiveMessage(Duration.ofSeconds(10));
        if (!(m instanceof WorkerProtocol.Generate g)) continue;
        seen.add(g);
        if (!g.limits().prefillAhead()) break;
        if (answer == Answer.DONE)
          g.replyTo().tell(new WorkerProtocol.Done(g.requestId(), null, List.of(), List.of(), false, 0, 0, 0, 0, -1));
        else if (answer == Answer.REFUSED)
          g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.INVALID_REQUEST, "no prefills ahead here"));
        small.open.countDown();
      }
      assertFalse(end.isDone(), "the session waits for its takeover");
      return seen;
    }
  }

  @Test
  void theLargeWorkerGetsTheDecidedTextAheadAndTheTakeoverBringsOnlyTheRest() throws Exception {
    List<WorkerProtocol.Generate> seen = upToTheFirstTakeover(true, true);
    WorkerProtocol.Generate first = seen.get(0), takeover = seen.get(seen.size() - 1);
    assertTrue(first.limits().prefillAhead(), "the first request is a prefill ahead");
    assertEquals(-1, first.basePosition(), "it brings the prompt, before the small model has written anything");
    assertNotNull(first.prompt());
    assertEquals(0, first.limits().maxNewTokens());
    assertEquals(TAKEOVER_START, target(takeover), "the takeover starts where the look-ahead did");
    WorkerProtocol.Generate last = seen.get(seen.size() - 2);
    assertEquals(target(last), takeover.basePosition(), "the takeover starts where the last prefill ahead left the view");
    assertTrue(takeover.basePosition() > 0, "the small model's text before the takeover came ahead: " + seen.size()
        + " requests, the takeover at " + takeover.basePosition());
    assertNull(takeover.prompt());
  }

  @Test
  void aTakeoverDoesNotWaitForAPrefillAheadStillInFlight() throws Exception {
    List<WorkerProtocol.Generate> seen = upToTheFirstTakeover(true, false);
    assertEquals(2, seen.size(), "one prefill ahead in flight at a time: " + seen.size() + " requests");
    WorkerProtocol.Generate takeover = seen.get(1);
    assertEquals(0, takeover.basePosition(), "it counts the prompt brought ahead as held (a worker without it resyncs)");
    assertNull(takeover.prompt());
    assertEquals(TAKEOVER_START, target(takeover));
  }

  /** A worker in front of a remote engine refuses prefills ahead for good: it is not asked again. */
  @Test
  void aWorkerThatRefusesPrefillsAheadIsNotAskedAgainAndTheTakeoverBringsEverything() throws Exception {
    List<WorkerProtocol.Generate> seen = upToTheFirstTakeover(true, Answer.REFUSED);
    assertEquals(2, seen.size(), "one prefill ahead, refused, then the takeover");
    assertEquals(-1, seen.get(1).basePosition());
    assertNotNull(seen.get(1).prompt());
    assertEquals(TAKEOVER_START, target(seen.get(1)));
  }

  @Test
  void withoutPrefillAheadTheTakeoverBringsEverything() throws Exception {
    List<WorkerProtocol.Generate> seen = upToTheFirstTakeover(false, true);
    assertEquals(1, seen.size());
    assertEquals(-1, seen.get(0).basePosition());
    assertEquals(TAKEOVER_START, target(seen.get(0)));
  }

  @Test
  void sessionsWriteTheSameWithAndWithoutPrefillAhead() throws Exception {
    for (boolean ahead : new boolean[] {false, true}) {
      try (World w = new World(ConfigFactory.empty(), settings(ahead))) {
        w.worker(Role.small, "small", new ScriptedModel("small", CASE.small()));
        w.worker(Role.large, "large", new ScriptedModel("large", CASE.large()));
        SessionEvent e = w.run(w.request(CASE.config(), true), null).get(30, TimeUnit.SECONDS);
        SessionEvent.Finished f = assertInstanceOf(SessionEvent.Finished.class, e, () -> "ended with " + e);
        assertEquals(CASE.expectedText(), f.trace().text(), "prefill-ahead " + ahead);
        assertEquals(CASE.expectedSpans(), ScriptedCase.merged(f.trace().spans()), "prefill-ahead " + ahead);
      }
    }
  }
}
