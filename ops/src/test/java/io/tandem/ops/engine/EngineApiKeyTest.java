package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
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
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Limits;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import io.tandem.worker.EngineEndpoint;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.WorkerSettings;
import io.tandem.worker.small.SmallWorker;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An engine that requires an API key (a Tandem engine node with {@code tandem.http.api-keys}, as
 * {@code serve --api-keys} runs one): a spec's {@code api-key-env} variable opens every endpoint the
 * worker uses ({@code /v1/models}, {@code /tokenize}, {@code /v1/completions}); no key or a wrong
 * one is named as such in the health problem the endpoint logs, not a bare status.
 */
class EngineApiKeyTest {
  static final String KEY = "sk-engine-front";
  static final String VARIABLE = "DEMO_ENGINE_KEY";
  static final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(
      "akka.actor.provider = local\ntandem.engine.health-interval = 200ms").withFallback(ConfigFactory.load()));
  static final EngineSettings SETTINGS = EngineSettings.fromConfig(kit.system().settings().config());
  static TandemEngineNode engine;

  @BeforeAll
  static void start() throws Exception {
    engine = new TandemEngineNode("demo-small", Role.small, DemoModels.dir().resolve("small").toString(), 4,
        "tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = front}]");
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
    if (engine != null) engine.close();
  }

  /** The node's spec with {@code api-key-env}, its variable holding {@code key}. */
  static EngineSpec withKey(String key) {
    return EngineSpec.parse(engine.spec() + "&api-key-env=" + VARIABLE, Map.of(VARIABLE, key)::get);
  }

  static String health(EngineSpec spec) throws Exception {
    return EngineEndpoint.health(spec, SETTINGS).get(30, TimeUnit.SECONDS);
  }

  @Test
  void theKeyInTheSpecsVariableOpensModelsTokenizeAndCompletions() throws Exception {
    EngineSpec spec = withKey(KEY);
    assertNull(health(spec), "the engine lists its model to the key's holder");
    CompletableFuture<String> loaded = new CompletableFuture<>();
    ActorRef<io.tandem.worker.EngineEndpoint.Message> endpoint =
        kit.spawn(SmallWorker.engine(spec, WorkerSettings.defaults(), SETTINGS, loaded), "keyed-engine");
    try {
      loaded.get(30, TimeUnit.SECONDS);
      TestProbe<Receptionist.Listing> listing = kit.createTestProbe();
      ActorRef<WorkerProtocol.Command> worker = listing.awaitAssert(Duration.ofSeconds(20), () -> {
        kit.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(Role.small), listing.getRef()));
        Set<ActorRef<WorkerProtocol.Command>> all = listing.receiveMessage().getServiceInstances(ServiceKeys.forRole(Role.small));
        return all.stream().filter(w -> w.path().parent().equals(endpoint.path())).findFirst().orElseThrow();
      });
      TestProbe<Reply> probe = kit.createTestProbe();
      // A chat prompt without a tokenizer folder: the engine's /tokenize renders it, then /v1/completions writes.
      Prompt prompt = Prompt.chat(List.of(new ChatMessage("user", "What is 12 + 34?")));
      worker.tell(new Generate("k1", "t", 1, -1, prompt, List.of(), new Limits(null, 20, 20, true, List.of()),
          SamplingParams.GREEDY, false, probe.getRef()));
      Done done = probe.expectMessageClass(Done.class, Duration.ofSeconds(60));
      assertFalse(done.generated().isEmpty(), "the engine wrote tokens for the keyed request");
      assertTrue(done.promptTokens() > 0, "the engine tokenized the chat prompt");
    } finally {
      kit.stop(endpoint);
    }
  }

  @Test
  void anEngineAskingForAKeyThatTheSpecDoesNotGiveSaysHowToGiveOne() throws Exception {
    String problem = health(EngineSpec.parse(engine.spec()));
    assertEquals("engine " + EngineSpec.parse(engine.spec()).endpoint() + " answered 401: it requires an API key; add "
        + "api-key-env=VAR to the engine spec, VAR an environment variable holding the key", problem);
  }

  @Test
  void aKeyTheEngineRefusesIsNamedByItsVariableNeverByItsValue() throws Exception {
    String problem = health(withKey("sk-wrong-key"));
    assertTrue(problem.contains("answered 401: the engine refused the key in " + VARIABLE + "; set api-key-env=VAR"), problem);
    assertFalse(problem.contains("sk-wrong-key"), "the key itself stays out of the log: " + problem);
  }
}
