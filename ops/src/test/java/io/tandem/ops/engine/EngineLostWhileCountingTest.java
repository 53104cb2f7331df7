package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.small.SmallWorker;
import io.tandem.worker.WorkerSettings;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * An engine worker without a tokenizer folder counts a prompt through its engine's /tokenize; when
 * the engine is gone by then, the worker stops, and says so to the count's asker at once: it gave
 * no answer, and the client waited out tandem.http.count-timeout (10 s) for a 503 that blamed a
 * worker "counting long prompts, or stopped or stalled" (session 45's noticed item).
 */
class EngineLostWhileCountingTest {
  // Health checks far apart: the worker learns of the loss from the count, not from a poll before it.
  static final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(
      "akka.actor.provider = local\ntandem.engine.health-interval = 10m").withFallback(ConfigFactory.load()));

  @AfterAll
  static void close() {
    kit.shutdownTestKit();
  }

  @Test
  void aWorkerThatLosesItsEngineWhileCountingSaysSoToTheAsker() throws Exception {
    TandemEngineNode engine = new TandemEngineNode("demo-small", Role.small, DemoModels.dir().resolve("small"), 4);
    ActorRef<WorkerProtocol.Command> worker;
    try {
      CompletableFuture<String> loaded = new CompletableFuture<>();
      var endpoint = kit.spawn(SmallWorker.engine(EngineSpec.parse(engine.spec()), WorkerSettings.defaults(),
          EngineSettings.fromConfig(kit.system().settings().config()), loaded), "engine");
      loaded.get(60, TimeUnit.SECONDS);
      TestProbe<Receptionist.Listing> listings = kit.createTestProbe();
      worker = listings.awaitAssert(Duration.ofSeconds(30), () -> {
        kit.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(Role.small), listings.getRef()));
        var ws = listings.receiveMessage().getServiceInstances(ServiceKeys.forRole(Role.small)).stream()
            .filter(w -> w.path().parent().equals(endpoint.path())).toList();
        assertFalse(ws.isEmpty(), "the engine worker registers once its engine answers");
        return ws.get(0);
      });
    } finally {
      engine.close();
    }
    TestProbe<WorkerProtocol.TokenCount> asker = kit.createTestProbe();
    TestProbe<Object> watcher = kit.createTestProbe();
    worker.tell(new WorkerProtocol.CountTokens(Prompt.chat(List.of(new ChatMessage("user", "What is 1 + 2?"))), null, null,
        asker.getRef(), 0));
    WorkerProtocol.TokenCount count = asker.expectMessageClass(WorkerProtocol.TokenCount.class, Duration.ofSeconds(30));
    assertNotNull(count.lost(), "the worker's loss, not a count: " + count);
    assertTrue(count.lost().startsWith("its engine does not serve (engine 127.0.0.1:"), count.lost());
    assertEquals(null, count.problem(), "no fault of the prompt");
    watcher.expectTerminated(worker, Duration.ofSeconds(30));
  }
}
