package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.LanguageModel;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.AdmissionQueue;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import io.tandem.worker.large.FairQueue;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** One ActorSystem with a session parent, a worker directory and whatever workers a test spawns. */
final class World implements AutoCloseable {
  /**
   * A probe's expectations wait up to 10 s (Akka's testkit: 3 s, which a busy 2-core machine ran past
   * once, a CI run beside training and a tester's cluster); an expectation met returns at once.
   */
  static final Config LOCAL = ConfigFactory.parseString(
      "akka.actor.provider = local\nakka.loglevel = WARNING\nakka.actor.testkit.typed.single-expect-default = 10s\n");

  final ActorTestKit kit;
  final ActorRef<WorkerDirectory.Command> directory;
  final ActorRef<Sessions.Command> sessions;
  private final AtomicInteger ids = new AtomicInteger();

  World(Config config, SessionSettings settings) {
    kit = ActorTestKit.create(config.withFallback(LOCAL).withFallback(ConfigFactory.load()));
    directory = kit.spawn(WorkerDirectory.create(), "workers");
    sessions = kit.spawn(Sessions.create(directory, settings), "sessions");
  }

  World() {
    this(ConfigFactory.empty(), new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4));
  }

  ActorRef<WorkerProtocol.Command> worker(Role role, String name, LanguageModel model, WorkerSettings settings) {
    return worker(role, name, model, settings,
        () -> role == Role.large ? new FairQueue(settings.queueLimit(), settings.queueLimit()) : new FifoQueue(settings.queueLimit()));
  }

  /** A worker whose admission order is {@code queue}'s rather than its role's. */
  ActorRef<WorkerProtocol.Command> worker(Role role, String name, LanguageModel model, WorkerSettings settings,
      Supplier<AdmissionQueue> queue) {
    return kit.spawn(ModelWorker.create(role, () -> model, settings, queue), name,
        DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
  }

  ActorRef<WorkerProtocol.Command> worker(Role role, String name, LanguageModel model) {
    return worker(role, name, model, WorkerSettings.defaults());
  }

  /** Waits (up to 10 s) until the directory lists {@code count} workers of {@code role}. */
  void awaitListed(Role role, int count) {
    TestProbe<WorkerDirectory.Workers> listed = kit.createTestProbe();
    listed.awaitAssert(Duration.ofSeconds(10), () -> {
      directory.tell(new WorkerDirectory.GetWorkers(role, Set.of(), listed.getRef()));
      assertEquals(count, listed.receiveMessage().workers().size());
      return null;
    });
  }

  SessionRequest request(SpeculativeConfig config, boolean stream) {
    return request("s" + ids.incrementAndGet(), config, stream);
  }

  SessionRequest request(String id, SpeculativeConfig config, boolean stream) {
    return new SessionRequest(id, "t", Prompt.chat(List.of(new ChatMessage("user", "Compute."))),
        SamplingParams.GREEDY, 100_000, config, Mode.speculative, stream);
  }

  CompletableFuture<SessionEvent> run(SessionRequest request, Consumer<SessionEvent.Delta> deltas) {
    return SessionRunner.run(kit.system(), sessions, request, deltas).toCompletableFuture();
  }

  /** A session of {@link Mode#small} whose one worker is a probe: the test answers its steps itself. */
  record ProbedSession(TestProbe<WorkerProtocol.Command> worker,
      TestProbe<SessionEvent> client, WorkerProtocol.Generate firstStep) {

    /** The session's events after its deltas: its end. */
    SessionEvent end() {
      SessionEvent e;
      do {
        e = client.receiveMessage(java.time.Duration.ofSeconds(10));
      } while (e instanceof SessionEvent.Delta);
      return e;
    }
  }

  /** Starts a greedy session {@code id} of {@link Mode#small} on a probe worker, and returns its first step as the worker got it. */
  ProbedSession probedSmallSession(String id) {
    var worker = kit.<WorkerProtocol.Command>createTestProbe();
    var directory = kit.<WorkerDirectory.Command>createTestProbe();
    var client = kit.<SessionEvent>createTestProbe();
    SessionRequest request = new SessionRequest(id, "t", io.tandem.protocol.Prompt.chat(java.util.List.of(
        new io.tandem.protocol.ChatMessage("user", "Hi."))), io.tandem.protocol.SamplingParams.GREEDY, 100,
        ScriptedCase.example().config(), Mode.small, false);
    SessionSettings settings = new SessionSettings(java.time.Duration.ofSeconds(1), java.time.Duration.ofMinutes(1), false, 4, 2,
        false, java.time.Duration.ofMillis(100), null, false);
    kit.spawn(SessionActor.create(request, client.getRef(), directory.getRef(), settings));
    directory.expectMessageClass(WorkerDirectory.WatchNodes.class);
    WorkerDirectory.GetWorkers asked = directory.expectMessageClass(WorkerDirectory.GetWorkers.class);
    asked.replyTo().tell(new WorkerDirectory.Workers(asked.role(), java.util.Set.of(worker.getRef())));
    return new ProbedSession(worker, client, worker.expectMessageClass(WorkerProtocol.Generate.class));
  }

  @Override
  public void close() {
    kit.shutdownTestKit();
  }

}
