package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.receptionist.Receptionist;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.HfModel;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Failed;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Limits;
import io.tandem.protocol.worker.WorkerProtocol.Partial;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import io.tandem.worker.EngineSettings;
import io.tandem.worker.EngineSpec;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import io.tandem.worker.small.SmallWorker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The engine worker against a stand-in for vLLM ({@link VllmStandIn}) running the demo small model:
 * the same tokens as the in-process worker of that model, only the unseen tokens prefilled by the
 * engine, the sync protocol's answers, the queue's limit, and a broken engine as a lost worker.
 */
class EngineWorkerTest {
  static final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString(
      "akka.actor.provider = local\ntandem.engine.health-interval = 200ms").withFallback(ConfigFactory.load()));
  static final Path SMALL = DemoModels.dir().resolve("small");
  static final Prompt PROMPT = Prompt.chat(List.of(new ChatMessage("user",
      "Please reason step by step, and put your final answer within \\boxed{}. What is 12 + 34 + 5?")));
  static final List<String> TRIGGERS = List.of("\n\n");
  static LanguageModel inProcess;
  static LanguageModel served;
  static int spawned;
  VllmStandIn engine;
  ActorRef<io.tandem.worker.EngineEndpoint.Message> endpoint;

  @BeforeAll
  static void open() {
    inProcess = HfModel.load(SMALL, "cpu");
    served = HfModel.load(SMALL, "cpu");
  }

  @AfterAll
  static void close() {
    kit.shutdownTestKit();
    inProcess.close();
    served.close();
  }

  @AfterEach
  void stopEngine() {
    if (endpoint != null) kit.stop(endpoint);
    if (engine != null) engine.close();
  }

  /** Spawns an engine endpoint for a fresh stand-in and returns its worker once registered. */
  ActorRef<WorkerProtocol.Command> engineWorker(String extra, WorkerSettings settings) throws Exception {
    return engineWorker(extra, settings, 0);
  }

  /** As {@link #engineWorker(String, WorkerSettings)}, the stand-in listing {@code maxModelLen} (0: its model's). */
  ActorRef<WorkerProtocol.Command> engineWorker(String extra, WorkerSettings settings, int maxModelLen) throws Exception {
    return engineWorker(extra, settings, maxModelLen, EngineSettings.fromConfig(kit.system().settings().config()));
  }

  /** As {@link #engineWorker(String, WorkerSettings, int)}, talking to the engine as {@code talk} says. */
  ActorRef<WorkerProtocol.Command> engineWorker(String extra, WorkerSettings settings, int maxModelLen, EngineSettings talk)
      throws Exception {
    engine = new VllmStandIn("demo-small", served);
    engine.maxModelLen = maxModelLen;
    CompletableFuture<String> loaded = new CompletableFuture<>();
    endpoint = kit.spawn(SmallWorker.engine(EngineSpec.parse(engine.spec(SMALL, extra)), settings, talk, loaded),
        "engine-" + (++spawned));
    assertTrue(loaded.get(30, TimeUnit.SECONDS).startsWith("demo-small@127.0.0.1:"), "the model is named by the engine's");
    return awaitWorker(Set.of());
  }

  /** This test's registered engine worker that is not one of {@code old}, polling the Receptionist until one is. */
  ActorRef<WorkerProtocol.Command> awaitWorker(Set<ActorRef<WorkerProtocol.Command>> old) {
    TestProbe<Receptionist.Listing> probe = kit.createTestProbe();
    List<ActorRef<WorkerProtocol.Command>> found = new ArrayList<>();
    probe.awaitAssert(Duration.ofSeconds(20), () -> {
      kit.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(Role.small), probe.getRef()));
      found.clear();
      for (ActorRef<WorkerProtocol.Command> w : probe.receiveMessage().getServiceInstances(ServiceKeys.forRole(Role.small)))
        if (!old.contains(w) && w.path().parent().equals(endpoint.path())) found.add(w);
      assertFalse(found.isEmpty(), "an engine worker registers once the engine answers");
      return null;
    });
    return found.get(0);
  }

  /** Polls the Receptionist until {@code worker} is no longer registered for its role (withdrawn). */
  static void awaitWithdrawn(ActorRef<WorkerProtocol.Command> worker) {
    TestProbe<Receptionist.Listing> listing = kit.createTestProbe();
    listing.awaitAssert(Duration.ofSeconds(20), () -> {
      kit.system().receptionist().tell(Receptionist.find(ServiceKeys.forRole(Role.small), listing.getRef()));
      assertFalse(listing.receiveMessage().getServiceInstances(ServiceKeys.forRole(Role.small)).contains(worker));
      return null;
    });
  }

  static ActorRef<WorkerProtocol.Command> inProcessWorker() {
    return kit.spawn(SmallWorker.create(() -> inProcess, WorkerSettings.defaults(), new CompletableFuture<>()),
        "in-process-" + (++spawned), DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
  }

  static Generate gen(String session, long id, int base, List<Chunk> append, int maxNew, boolean stream, TestProbe<Reply> p) {
    return new Generate(session, "t", id, base, base < 0 ? PROMPT : null, append,
        new Limits(null, maxNew, maxNew, true, TRIGGERS), SamplingParams.GREEDY, stream, p.getRef());
  }

  /** Talking to the engine with the default timeouts, its health polled every {@code interval}, {@code threshold} silences allowed. */
  static EngineSettings polling(Duration interval, Duration timeout, int threshold) {
    return new EngineSettings(Duration.ofSeconds(5), Duration.ofSeconds(60), interval, timeout, threshold);
  }

  /** The first reply on {@code p} that is not a streamed {@link Partial}, within 30 s of the one before. */
  static Reply afterPartials(TestProbe<Reply> p) {
    Reply r;
    do {
      r = p.receiveMessage(Duration.ofSeconds(30));
    } while (r instanceof Partial);
    return r;
  }

  static int[] ids(List<Token> tokens) {
    return tokens.stream().mapToInt(Token::id).toArray();
  }

  @Test
  void aStepThroughTheEngineGivesTheInProcessWorkersTokensStreamedAsWritten() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    ActorRef<WorkerProtocol.Command> local = inProcessWorker();
    TestProbe<Reply> a = kit.createTestProbe();
    TestProbe<Reply> b = kit.createTestProbe();
    remote.tell(gen("s1", 1, -1, List.of(), 200, true, a));
    local.tell(gen("s1", 1, -1, List.of(), 200, false, b));
    Done fromLocal = b.expectMessageClass(Done.class, Duration.ofSeconds(30));
    List<Token> streamed = new ArrayList<>();
    Reply r;
    while ((r = a.receiveMessage(Duration.ofSeconds(30))) instanceof Partial p) streamed.addAll(p.generated());
    Done fromEngine = (Done) r;
    assertTrue(fromLocal.generated().size() > 1, "the model wrote a step: " + fromLocal.generated());
    assertEquals(java.util.Arrays.toString(ids(fromLocal.generated())), java.util.Arrays.toString(ids(fromEngine.generated())));
    assertEquals(Token.concat(fromLocal.generated()), Token.concat(fromEngine.generated()));
    assertEquals(fromEngine.generated(), streamed, "every token reached the session as a Partial before the Done");
    assertEquals(fromLocal.eos(), fromEngine.eos());
    assertEquals(fromLocal.promptTokens(), fromEngine.promptTokens());
    assertEquals(inProcess.tokenizer().key(), fromEngine.tokenizerKey(), "the tokenizer folder's vocabulary");
  }

  /**
   * Each step carries vLLM's {@code cache_salt} of its tenant and request salt, so that the engine's
   * prefix cache, shared by all it serves, keeps them apart as an in-process worker's does: the same
   * tenant and salt send the same one, another tenant or salt another, and no tenant's name. None
   * was sent, and one tenant's {@code cached_tokens} told it what another had sent.
   */
  @Test
  void eachStepCarriesTheCacheSaltOfItsTenantAndSalt() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    String[][] scopes = {{"acme", null}, {"acme", null}, {"globex", null}, {"acme", "s1"}};
    List<String> sent = new ArrayList<>();
    for (int i = 0; i < scopes.length; i++) {
      remote.tell(new Generate("salted-" + i, scopes[i][0], 1, -1, PROMPT, List.of(), new Limits(null, 3, 3, true, TRIGGERS),
          SamplingParams.GREEDY, false, probe.getRef(), scopes[i][1]));
      probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
      sent.add(engine.cacheSalts.get(engine.cacheSalts.size() - 1));
    }
    for (String salt : sent) assertTrue(salt != null && salt.matches("[0-9a-f]{64}"), "an HMAC-SHA256, naming no tenant: " + sent);
    String plain = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
        .digest("acme".getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    assertFalse(sent.contains(plain), "not a hash of the tenant's name alone, which anyone reaching the engine could compute");
    assertEquals(sent.get(0), sent.get(1), "one tenant's requests share the engine's cache");
    assertEquals(3, Set.copyOf(sent).size(), "another tenant's, or another salt's, do not: " + sent);
  }

  /**
   * A reset of the prefix cache (eval and bench serve send one before each measured run) salts the steps after it anew,
   * those of no tenant too: the engine's own cache cannot be emptied from here, and eval's modes through an engine were
   * served from what the modes before had left (tester56c).
   */
  @Test
  void aPrefixCacheResetSaltsTheStepsAfterItAnew() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    String[][] scopes = {{"acme", null}, {"", null}};
    List<String> before = new ArrayList<>(), after = new ArrayList<>();
    for (List<String> sent : List.of(before, after)) {
      if (sent == after) {
        TestProbe<WorkerProtocol.PrefixCacheReset> reset = kit.createTestProbe();
        remote.tell(new WorkerProtocol.ResetPrefixCache(reset.getRef()));
        reset.expectMessageClass(WorkerProtocol.PrefixCacheReset.class, Duration.ofSeconds(30));
      }
      for (int i = 0; i < scopes.length; i++) {
        remote.tell(new Generate("reset-" + sent.size() + "-" + (sent == after), scopes[i][0], 1, -1, PROMPT, List.of(),
            new Limits(null, 3, 3, true, TRIGGERS), SamplingParams.GREEDY, false, probe.getRef(), scopes[i][1]));
        probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
        sent.add(engine.cacheSalts.get(engine.cacheSalts.size() - 1));
      }
    }
    assertTrue(before.get(1) == null, "no tenant, no salt: none sent, as before any reset: " + before);
    assertTrue(after.get(1) != null && after.get(1).matches("[0-9a-f]{64}"), "after a reset, one: " + after);
    assertFalse(before.get(0).equals(after.get(0)), "a tenant's steps after the reset share nothing from before: " + before
        + " " + after);
  }

  @Test
  void aTakeoverSendsTheWholeSessionButTheEnginePrefillsOnlyWhatItHasNotSeen() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen("s2", 1, -1, List.of(), 30, false, probe));
    Done first = probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    int position = first.generated().size();
    // Another model's step of 3 tokens (another vocabulary: re-encoded by the worker).
    Chunk takeover = new Chunk("another-vocabulary",
        List.of(new Token(9001, " Wait"), new Token(9002, ","), new Token(9003, " 12")));
    remote.tell(gen("s2", 2, position, List.of(takeover), 10, false, probe));
    Done second = probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    VllmStandIn.Usage usage = engine.usages.get(engine.usages.size() - 1);
    int appended = inProcess.tokenizer().encode(" Wait, 12").length;
    assertEquals(usage.promptTokens() - usage.cachedTokens(), second.prefillTokens(),
        "the worker reports the engine's own count of prefilled tokens");
    assertEquals(appended + 1, second.prefillTokens(),
        "the engine prefilled the takeover's tokens and the last token of the step before, not the prompt again");
    assertEquals(first.promptTokens() + position + appended, usage.promptTokens(), "the request carried the whole session");
  }

  @Test
  void aSessionTheWorkerDoesNotHoldIsAskedToResync() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen("unknown", 1, 5, List.of(), 10, false, probe));
    assertEquals(-1, probe.expectMessageClass(WorkerProtocol.Resync.class).havePosition());
  }

  @Test
  void requestsBeyondTheConcurrencyWaitAndBeyondTheQueueAreRejected() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("&max-concurrency=1", new WorkerSettings(16, 1, 1L << 30, true));
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen("q1", 1, -1, List.of(), 30, false, probe)); // in flight
    remote.tell(gen("q2", 2, -1, List.of(), 30, false, probe)); // waits
    remote.tell(gen("q3", 3, -1, List.of(), 30, false, probe)); // the queue holds one
    List<Reply> replies = List.of(probe.receiveMessage(Duration.ofSeconds(30)), probe.receiveMessage(Duration.ofSeconds(30)),
        probe.receiveMessage(Duration.ofSeconds(30)));
    WorkerProtocol.Rejected rejected = (WorkerProtocol.Rejected) replies.stream()
        .filter(r -> r instanceof WorkerProtocol.Rejected).findFirst().orElseThrow();
    assertEquals(3, rejected.requestId());
    assertEquals(FailureCode.QUEUE_FULL, rejected.code());
    assertEquals(2, replies.stream().filter(r -> r instanceof Done).count(), "the waiting request ran after the first");
  }

  @Test
  void anEngineAnswering5xxLosesTheWorkerAndAFreshOneServesWhenItIsHealthy() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    TestProbe<Object> watcher = kit.createTestProbe();
    engine.failWith = 500;
    remote.tell(gen("f1", 1, -1, List.of(), 10, false, probe));
    watcher.expectTerminated(remote, Duration.ofSeconds(20));
    probe.expectNoMessage(Duration.ofMillis(100)); // no Done, no Failed: the session sees the worker terminate
    engine.failWith = 0;
    ActorRef<WorkerProtocol.Command> fresh = awaitWorker(Set.of(remote));
    // Under the same name, so that /metrics' series of the worker go on across the engine's restart (tester46f).
    assertEquals(remote.path().name(), fresh.path().name());
    fresh.tell(gen("f1", 2, -1, List.of(), 10, false, probe));
    probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
  }

  /**
   * An engine that lists a max_model_len below its tokenizer folder's context (vLLM started with
   * --max-model-len) is served at the engine's: counted against the folder's, a request beyond the
   * engine's reached it and came back a 500 (tester45b).
   */
  @Test
  void theContextIsTheEnginesWhereItListsLessThanTheFolderSays() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults(), 200);
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    remote.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(200, stats.receiveMessage(Duration.ofSeconds(10)).contextLength());
    assertTrue(served.contextLength() > 200, "the folder's context is larger: " + served.contextLength());
    // The engine restarted with its model's whole context: the next worker takes it (tester45e: the cap stayed).
    engine.maxModelLen = 0;
    engine.failWith = 500;
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen("m1", 1, -1, List.of(), 10, false, probe));
    kit.createTestProbe().expectTerminated(remote, Duration.ofSeconds(20));
    engine.failWith = 0;
    ActorRef<WorkerProtocol.Command> fresh = awaitWorker(Set.of(remote));
    fresh.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(served.contextLength(), stats.receiveMessage(Duration.ofSeconds(10)).contextLength());
  }

  /**
   * The engine's 400s are the request's, in the engine's words, not a model error (a 500): vLLM's
   * for a request beyond its context is the request's length, as a local worker says it; another
   * (vLLM's validation) an invalid request (tester45b, tester45e).
   */
  @Test
  void anEngines400IsTheRequestsFaultInItsWords() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    engine.refuseBeyond = 40;
    Failed context = refusal(remote, "c1");
    assertEquals(FailureCode.CONTEXT_LENGTH_EXCEEDED, context.code(), context.message());
    assertTrue(context.message().contains("answered 400: This model's maximum context length is 40 tokens"), context.message());
    engine.failWith = 400;
    Failed invalid = refusal(remote, "v1");
    assertEquals(FailureCode.INVALID_REQUEST, invalid.code(), invalid.message());
    assertTrue(invalid.message().endsWith("refused the request (400): stand-in told to fail"), invalid.message());
  }

  /** How {@code remote} fails a step of session {@code session} asking for 200 tokens. */
  private static Failed refusal(ActorRef<WorkerProtocol.Command> remote, String session) {
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen(session, 1, -1, List.of(), 200, false, probe));
    return probe.expectMessageClass(Failed.class, Duration.ofSeconds(30));
  }

  /**
   * An engine that answers 503 (or 429) is busy, not lost: the step is refused as by a full queue
   * (the session goes to another worker, or waits for room), and the worker stays; a 503 saying not
   * to retry is an engine that cannot serve at all. Losing the worker at each 503 had it stop and
   * register again at every request (tester45b, a Tandem engine node that was never ready).
   */
  @Test
  void anEngineAnswering503IsBusyNotLostAndOneNeverReadyIsSaidToBe() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    engine.failWith = 503;
    remote.tell(gen("b1", 1, -1, List.of(), 10, false, probe));
    WorkerProtocol.Rejected busy = probe.expectMessageClass(WorkerProtocol.Rejected.class, Duration.ofSeconds(30));
    assertEquals(FailureCode.QUEUE_FULL, busy.code(), busy.reason());
    assertTrue(busy.reason().endsWith("answered 503: stand-in told to fail"), busy.reason());
    engine.neverReady = true;
    remote.tell(gen("b1", 2, -1, List.of(), 10, false, probe));
    Failed never = probe.expectMessageClass(Failed.class, Duration.ofSeconds(30));
    assertEquals(FailureCode.ROLE_NOT_SERVED, never.code(), never.message());
    engine.failWith = 0;
    remote.tell(gen("b1", 3, -1, List.of(), 10, false, probe));
    probe.expectMessageClass(Done.class, Duration.ofSeconds(30)); // the same worker: it was never lost
    // A Tandem node draining answers so: refused, in its words, not busy (tester47g read "at capacity"), and the worker
    // withdrawn, stopping with nothing in flight (tester48f: a later step meeting the closed port read "lost").
    engine.failWith = 503;
    engine.neverReady = false;
    engine.failMessage = "the server cannot serve this request now: the server is shutting down";
    remote.tell(gen("b1", 4, -1, List.of(), 10, false, probe));
    WorkerProtocol.Rejected draining = probe.expectMessageClass(WorkerProtocol.Rejected.class, Duration.ofSeconds(30));
    assertEquals(FailureCode.UNAVAILABLE, draining.code(), draining.reason());
    assertTrue(draining.reason().matches("engine 127\\.0\\.0\\.1:\\d+ is shutting down \\(it answered 503: .*\\)"),
        draining.reason());
    kit.createTestProbe().expectTerminated(remote, Duration.ofSeconds(20));
  }

  @Test
  void anEngineThatStopsAnsweringIsWithdrawnFromItsRole() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Object> watcher = kit.createTestProbe();
    engine.close(); // the engine process is gone
    watcher.expectTerminated(remote, Duration.ofSeconds(20));
  }

  /**
   * An engine that stalls (SIGSTOP, a GC pause) with a step in flight keeps its worker for
   * health-failure-threshold checks without an answer: the step goes on once it runs again. It was
   * lost at the first check past health-timeout, failing every request in flight (tester46d: a 5-7 s
   * stall). Stalled past the threshold, it is lost as before.
   */
  @Test
  void anEngineThatStallsKeepsItsWorkerUntilTheFailureThreshold() throws Exception {
    // 5 checks of 300 ms, 200 ms apart: withdrawn some 2.5 s into a stall.
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults(), 0,
        polling(Duration.ofMillis(200), Duration.ofMillis(300), 5));
    TestProbe<Reply> probe = kit.createTestProbe();
    TestProbe<Object> watcher = kit.createTestProbe();
    engine.stalled = new java.util.concurrent.CountDownLatch(1);
    remote.tell(gen("p1", 1, -1, List.of(), 10, false, probe));
    // Stalled 1.1 s, two checks unanswered: below the threshold, the worker and its step wait.
    probe.expectNoMessage(Duration.ofMillis(1100));
    engine.stalled.countDown();
    probe.expectMessageClass(Done.class, Duration.ofSeconds(30));
    remote.tell(gen("p1", 2, -1, List.of(), 10, false, probe));
    probe.expectMessageClass(Done.class, Duration.ofSeconds(30)); // the same worker serves on
    engine.stalled = new java.util.concurrent.CountDownLatch(1);
    watcher.expectTerminated(remote, Duration.ofSeconds(20));
    engine.stalled.countDown();
    awaitWorker(Set.of(remote));
  }

  /**
   * A count sent to the engine's tokenizer (an engine spec without a tokenizer folder) that the
   * engine, stalled, does not answer is said overdue by the worker just before its asker gives up,
   * naming the engine; the asker's own timeout said "counting long prompts", Retry-After 1
   * (tester50e). The engine's late answer is then for no one.
   */
  @Test
  void aCountTheEnginesTokenizerDoesNotAnswerIsSaidOverdueBeforeItsAskerGivesUp() throws Exception {
    engine = new VllmStandIn("demo-small", served);
    CompletableFuture<String> loaded = new CompletableFuture<>();
    // One health check, at the start: the stall is met by the count alone.
    endpoint = kit.spawn(SmallWorker.engine(EngineSpec.parse("openai:" + engine.baseUrl() + "?model=demo-small"),
        WorkerSettings.defaults(), polling(Duration.ofMinutes(10), Duration.ofSeconds(5), 2), loaded), "engine-" + (++spawned));
    loaded.get(30, TimeUnit.SECONDS);
    ActorRef<WorkerProtocol.Command> remote = awaitWorker(Set.of());
    engine.stalled = new java.util.concurrent.CountDownLatch(1);
    try {
      TestProbe<WorkerProtocol.TokenCount> asker = kit.createTestProbe();
      long sent = System.nanoTime();
      remote.tell(new WorkerProtocol.CountTokens(PROMPT, null, null, asker.getRef(), 2000));
      WorkerProtocol.TokenCount count = asker.expectMessageClass(WorkerProtocol.TokenCount.class, Duration.ofSeconds(10));
      long waited = (System.nanoTime() - sent) / 1_000_000;
      assertTrue(count.lost() != null && count.lost().matches("its engine 127\\.0\\.0\\.1:\\d+ has not answered its tokenizer's"
          + " request \\(/tokenize, /detokenize\\) for 1\\.8 s \\(stalled or busy\\)"), String.valueOf(count));
      // Just before the asker's 2 s, by the timer; a loaded machine's late timer is taken for a pause and gives 0.5 s more.
      assertTrue(waited >= 1_700, "not before the engine has had 1.8 s: " + waited + " ms");
    } finally {
      engine.stalled.countDown();
    }
    // The engine's late answer (its 404) goes to no one, and the worker serves on.
    TestProbe<Reply> probe = kit.createTestProbe();
    remote.tell(gen("after-overdue", 1, -1, List.of(), 5, false, probe));
    assertTrue(afterPartials(probe) instanceof Failed, "the stand-in has no tokenizer: the step fails, by the same worker");
    assertEquals(remote, awaitWorker(Set.of()), "still the role's worker");
  }

  /**
   * An engine that shuts down gracefully (its port closed, its streams flowing on) is withdrawn from
   * its role at the health check that finds it closed, but its step in flight runs to its end, and
   * only then does the worker stop. It stopped at once, and every request in flight through it failed
   * while the engine was finishing them (tester47d, a Tandem engine node given SIGTERM).
   */
  @Test
  void anEngineShuttingDownFinishesItsStepsInFlightBeforeItsWorkerStops() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    TestProbe<Object> watcher = kit.createTestProbe();
    engine.stalled = new java.util.concurrent.CountDownLatch(1); // holds the step until the port has closed
    remote.tell(gen("g1", 1, -1, List.of(), 200, true, probe));
    engine.shutDownGracefully();
    // Withdrawn from its role once a health check (every 200 ms here) finds the port closed.
    awaitWithdrawn(remote);
    engine.stalled.countDown();
    Reply r = afterPartials(probe);
    assertTrue(r instanceof Done, "the step ran to its end: " + r);
    watcher.expectTerminated(remote, Duration.ofSeconds(20));
  }

  /**
   * A withdrawn worker whose last step in flight is released by its session (which failed, or whose
   * client left) stops then, so that a fresh worker serves the engine once it is back: it waited for
   * that step for ever (tester48f: no large worker 12 minutes after the engine came back).
   */
  @Test
  void aWithdrawnWorkerWhoseLastStepIsReleasedStops() throws Exception {
    // One health check, at the start: the closed port is met by a step alone, and nothing else stops the worker.
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults(), 0,
        polling(Duration.ofMinutes(10), Duration.ofSeconds(5), 2));
    TestProbe<Reply> streaming = kit.createTestProbe();
    engine.stalled = new java.util.concurrent.CountDownLatch(1); // holds the step until it is released
    remote.tell(gen("w1", 1, -1, List.of(), 200, true, streaming));
    assertTrue(engine.begun.tryAcquire(30, TimeUnit.SECONDS), "the engine streams the first step");
    engine.shutDownGracefully();
    for (long deadline = System.nanoTime() + 20_000_000_000L; !engine.portClosed() && System.nanoTime() < deadline; )
      Thread.onSpinWait();
    TestProbe<Reply> late = kit.createTestProbe();
    remote.tell(gen("w2", 1, -1, List.of(), 10, false, late));
    late.expectMessageClass(WorkerProtocol.Rejected.class, Duration.ofSeconds(30)); // withdrawn
    remote.tell(new WorkerProtocol.Release("w1"));
    kit.createTestProbe().expectTerminated(remote, Duration.ofSeconds(20));
    engine.stalled.countDown();
  }

  /**
   * A new step that meets the closed port of an engine shutting down, before any health check saw it
   * closed, is refused (to go to another worker) and withdraws the worker, while the step streaming
   * runs to its end; it was a lost engine, and every step in flight failed (tester47e: a takeover
   * reached the port first).
   */
  @Test
  void aStepRefusedByAClosedPortBesideStreamingOnesWithdrawsTheWorkerAndTheyFinish() throws Exception {
    // One health check, at the start: the closed port is met by the step alone.
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults(), 0,
        polling(Duration.ofMinutes(10), Duration.ofSeconds(5), 2));
    TestProbe<Reply> streaming = kit.createTestProbe();
    TestProbe<Reply> late = kit.createTestProbe();
    engine.stalled = new java.util.concurrent.CountDownLatch(1);
    remote.tell(gen("s1", 1, -1, List.of(), 200, true, streaming));
    assertTrue(engine.begun.tryAcquire(30, TimeUnit.SECONDS), "the engine streams the first step");
    engine.shutDownGracefully();
    for (long deadline = System.nanoTime() + 20_000_000_000L; !engine.portClosed() && System.nanoTime() < deadline; )
      Thread.onSpinWait();
    remote.tell(gen("s2", 1, -1, List.of(), 10, false, late));
    WorkerProtocol.Rejected refused = late.expectMessageClass(WorkerProtocol.Rejected.class, Duration.ofSeconds(30));
    // Refused as by an engine that is going away, not a busy one (tester48e: "the server is at capacity").
    assertEquals(FailureCode.UNAVAILABLE, refused.code(), refused.reason());
    assertTrue(refused.reason().matches("small engine 127\\.0\\.0\\.1:\\d+ refused a new connection while its requests in"
        + " flight were still streaming: it is shutting down \\(they run to their end\\) or it crashed \\(they fail\\)"),
        refused.reason());
    engine.stalled.countDown();
    Reply r = afterPartials(streaming);
    assertTrue(r instanceof Done, "the streaming step ran to its end: " + r);
    kit.createTestProbe().expectTerminated(remote, Duration.ofSeconds(20));
  }

  /**
   * A step that meets the closed port of an idle engine (shut down, or crashed, between two health
   * checks) was never taken by it: it is refused, to go to another worker, in words naming the refused
   * connection, and the worker withdraws and stops; it was a lost engine, an ERROR and "its engine was
   * lost" of an engine shut down gracefully while idle (tester48h).
   */
  @Test
  void aStepMeetingTheClosedPortOfAnIdleEngineIsRefusedNotLost() throws Exception {
    // One health check, at the start: the closed port is met by the step alone.
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults(), 0,
        polling(Duration.ofMinutes(10), Duration.ofSeconds(5), 2));
    engine.close(); // its port and its kept-alive connections closed, as at the end of a drain with nothing in flight
    TestProbe<Reply> late = kit.createTestProbe();
    remote.tell(gen("s1", 1, -1, List.of(), 10, false, late));
    WorkerProtocol.Rejected refused = late.expectMessageClass(WorkerProtocol.Rejected.class, Duration.ofSeconds(30));
    assertEquals(FailureCode.UNAVAILABLE, refused.code(), refused.reason());
    assertTrue(refused.reason().matches("small engine 127\\.0\\.0\\.1:\\d+ unreachable: .*"), refused.reason());
    kit.createTestProbe().expectTerminated(remote, Duration.ofSeconds(20));
  }

  /** Its KV cache is the engine's: /metrics shows no kv_cache_usage_bytes for it rather than a 0 that looks empty. */
  @Test
  void anEngineWorkerSaysItCannotTellItsCacheBytes() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    oneStepDone(remote);
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    remote.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(WorkerProtocol.WorkerStats.CACHE_BYTES_UNKNOWN, stats.receiveMessage().cacheBytes());
  }

  @Test
  void aSessionThatEndsWithoutReleasingIsReleasedAllTheSame() throws Exception {
    ActorRef<WorkerProtocol.Command> remote = engineWorker("", WorkerSettings.defaults());
    TestProbe<Reply> session = oneStepDone(remote);
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    remote.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(1, stats.receiveMessage().sessionsCached());
    session.stop();
    stats.awaitAssert(() -> {
      remote.tell(new WorkerProtocol.GetStats(stats.getRef()));
      assertEquals(0, stats.receiveMessage().sessionsCached());
      return null;
    });
  }

  /** A session's first step, run to its end on {@code remote}: the session's probe. */
  private TestProbe<Reply> oneStepDone(ActorRef<WorkerProtocol.Command> remote) {
    TestProbe<Reply> session = kit.createTestProbe();
    remote.tell(gen("e1", 1, -1, List.of(), 10, false, session));
    session.expectMessageClass(Done.class, Duration.ofSeconds(30));
    return session;
  }
}
