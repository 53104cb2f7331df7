package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import io.tandem.inference.scripted.ScriptedModel;
import io.tandem.inference.scripted.ScriptedTokenizer;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Limits;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import io.tandem.worker.small.SmallWorker;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The worker's side of the sync protocol, on the small worker with a scripted model. */
class ModelWorkerTest {
  static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("akka.actor.provider = local").withFallback(ConfigFactory.load()));
  static final List<String> SCRIPT = List.of("So", " x", ".\n\n", "Wait", ",", " no", ".\n\n", "Yes");
  static final Prompt PROMPT = Prompt.chat(List.of(new ChatMessage("user", "hi")));
  static int workers;

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  static ActorRef<WorkerProtocol.Command> worker(LanguageModel model, WorkerSettings settings) {
    return kit.spawn(SmallWorker.create(() -> model, settings, new CompletableFuture<>()),
        "w" + (++workers), DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
  }

  static Generate gen(String session, long id, int base, List<Chunk> append, Limits limits, TestProbe<Reply> probe) {
    return gen(session, id, base, append, limits, probe.getRef());
  }

  static Generate gen(String session, long id, int base, List<Chunk> append, Limits limits, ActorRef<Reply> replyTo) {
    return new Generate(session, "t", id, base, base < 0 ? PROMPT : null, append, limits, SamplingParams.GREEDY, false,
        replyTo);
  }

  /** How many sessions' caches the worker holds now. */
  static int sessionsCached(ActorRef<WorkerProtocol.Command> worker) {
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    worker.tell(new WorkerProtocol.GetStats(stats.getRef()));
    return stats.receiveMessage().sessionsCached();
  }

  /** Asks {@code worker} for its figures until it holds {@code expected} sessions' caches. */
  static void awaitSessionsCached(ActorRef<WorkerProtocol.Command> worker, int expected) {
    kit.createTestProbe().awaitAssert(() -> {
      assertEquals(expected, sessionsCached(worker));
      return null;
    });
  }

  static Limits draft() {
    return new Limits(null, 100, 100, true, List.of("\n\n"));
  }

  static String text(List<Token> tokens) {
    return Token.concat(tokens);
  }

  @Test
  void aFirstRequestBringsThePromptAndDraftsUntilTheTrigger() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("a", 1, -1, List.of(), draft(), probe));
    Done d = probe.expectMessageClass(Done.class);
    assertEquals("So x.\n\n", text(d.generated()));
    assertEquals(1, d.promptTokens());
    assertEquals(false, d.eos());
  }

  @Test
  void aPositionTheWorkerDoesNotHoldIsAnsweredWithWhatItHas() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("b", 1, 0, List.of(), draft(), probe));
    assertEquals(-1, probe.expectMessageClass(WorkerProtocol.Resync.class).havePosition());
    w.tell(gen("b", 2, -1, List.of(), draft(), probe));
    probe.expectMessageClass(Done.class); // holds 3 tokens now
    w.tell(gen("b", 3, 5, List.of(), draft(), probe));
    assertEquals(3, probe.expectMessageClass(WorkerProtocol.Resync.class).havePosition());
  }

  @Test
  void askingForAnEarlierPositionRollsBackTheDiscardedTokens() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("c", 1, -1, List.of(), draft(), probe));
    probe.expectMessageClass(Done.class);
    w.tell(gen("c", 2, 3, List.of(), new Limits(null, 3, 3, false, List.of()), probe)); // a look-ahead: 3..5
    assertEquals("Wait, no", text(probe.expectMessageClass(Done.class).generated()));
    // The look-ahead is discarded: back to 3, and the session appends another model's token there.
    Chunk other = new Chunk(ScriptedTokenizer.KEY, List.of(new Token(ScriptedTokenizer.idOf(" THEN"), " THEN")));
    w.tell(gen("c", 3, 3, List.of(other), new Limits(null, 2, 2, false, List.of()), probe));
    assertEquals(", no", text(probe.expectMessageClass(Done.class).generated()), "positions 4 and 5 after the new token");
  }

  @Test
  void injectedTextIsTokenizedByTheWorkerAndReturned() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("d", 1, -1, List.of(), new Limits("Let me recap:", 2, 10, false, List.of()), probe));
    Done d = probe.expectMessageClass(Done.class);
    assertEquals("Let me recap:", text(d.injected()));
    assertEquals(" x.\n\n", text(d.generated()), "the injected token took position 0");
  }

  @Test
  void theTokenBudgetCoversInjectedAndGeneratedTokens() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("e", 1, -1, List.of(), new Limits("recap", 10, 3, false, List.of()), probe));
    Done d = probe.expectMessageClass(Done.class);
    assertEquals(1, d.injected().size());
    assertEquals(2, d.generated().size());
  }

  /** Holds its first step until released, so that requests pile up behind it. */
  static final class Held extends ScriptedModel {
    final CountDownLatch inStep = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);

    Held() {
      super("held", SCRIPT);
    }

    @Override
    public int[] forward(List<Sequence> batch, int maxPrefillTokens) {
      inStep.countDown();
      awaitRelease(release);
      return super.forward(batch, maxPrefillTokens);
    }
  }

  /**
   * A request's queue time (vLLM's request_queue_time_seconds, from the worker's Done) is the time
   * it waited, here behind another's held step, not its own passes: at least from when it was seen
   * waiting to when the step was let go, at most from when it was sent to when it was answered
   * (tester61a: only a hand-built Done was tested, and a worker that said 0 passed).
   */
  @Test
  void aRequestsQueueTimeIsTheTimeItWaitedBehindAnotherStep() throws Exception {
    Held held = new Held();
    ActorRef<WorkerProtocol.Command> w = worker(held, WorkerSettings.defaults());
    TestProbe<Reply> busy = kit.createTestProbe();
    w.tell(gen("first", 1, -1, List.of(), draft(), busy));
    assertTrue(held.inStep.await(10, TimeUnit.SECONDS));
    TestProbe<Reply> probe = kit.createTestProbe();
    long sent = System.nanoTime();
    w.tell(gen("second", 1, -1, List.of(), draft(), probe));
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    stats.awaitAssert(() -> {
      w.tell(new WorkerProtocol.GetStats(stats.getRef()));
      assertEquals(1, stats.receiveMessage().queueLength(), "the second request waits");
      return null;
    });
    long seenWaiting = System.nanoTime();
    // The scenario: it waits 50 ms more behind the held step (so that a queue time counted from the step's end, not
    // from its arrival, is short by that much), timed before the step is let go, which the worker may act on at once.
    java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    long released = System.nanoTime();
    held.release.countDown();
    Done second = probe.expectMessageClass(Done.class);
    long answered = System.nanoTime();
    assertTrue(second.queueNanos() >= released - seenWaiting, second.queueNanos() + " ns queued, seen waiting for "
        + (released - seenWaiting) + " ns");
    assertTrue(second.queueNanos() <= answered - sent - second.computeNanos(), second.queueNanos() + " ns queued of "
        + (answered - sent) + " ns, " + second.computeNanos() + " ns computing");
    busy.expectMessageClass(Done.class);
  }

  /**
   * A prefill ahead still queued behind a busy pass when its session's takeover comes is not
   * dropped: its text joins the view, and the takeover, sent from the ahead's end as the session
   * counts an overtaken ahead done, prefills all of it with its own instead of being told to resync.
   */
  @Test
  void aPrefillAheadOvertakenInTheQueueGivesItsTextToTheTakeover() throws Exception {
    Held held = new Held();
    ActorRef<WorkerProtocol.Command> w = worker(held, WorkerSettings.defaults());
    TestProbe<Reply> busy = kit.createTestProbe();
    w.tell(gen("busy", 1, -1, List.of(), draft(), busy));
    assertTrue(held.inStep.await(10, TimeUnit.SECONDS));
    TestProbe<Reply> probe = kit.createTestProbe();
    Chunk decided = new Chunk(ScriptedTokenizer.KEY, List.of(new Token(ScriptedTokenizer.idOf("So"), "So"),
        new Token(ScriptedTokenizer.idOf(" x"), " x")));
    w.tell(gen("t", 1, -1, List.of(decided), Limits.PREFILL_AHEAD, probe));
    w.tell(gen("t", 2, 2, List.of(), draft(), probe)); // from the ahead's end: after the two decided tokens
    held.release.countDown();
    Done ahead = probe.expectMessageClass(Done.class);
    assertEquals(1, ahead.requestId());
    assertEquals(0, ahead.prefillTokens(), "the ahead computed nothing");
    Done takeover = probe.expectMessageClass(Done.class);
    assertEquals(2, takeover.requestId());
    assertEquals(3, takeover.prefillTokens(), "the takeover prefilled the prompt and the ahead's text");
    assertEquals(".\n\n", text(takeover.generated()));
    busy.expectMessageClass(Done.class);
  }

  /**
   * Admission runs off the actor's thread: a new sequence that takes long to start (a prefix fork
   * growing a large model's KV pool took over 2 s in a burst of new sessions) does not keep the
   * worker from answering its figures, which a scrape waits for 2 s at most (worker_up read 0).
   */
  @Test
  void theWorkerAnswersItsFiguresWhileItAdmitsARequest() throws Exception {
    CountDownLatch starting = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ScriptedModel slowStart = new ScriptedModel("slow-start", SCRIPT) {
      @Override
      public Sequence newSequence(SamplingParams sampling) {
        starting.countDown();
        awaitRelease(release);
        return super.newSequence(sampling);
      }
    };
    ActorRef<WorkerProtocol.Command> w = worker(slowStart, WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("slow", 1, -1, List.of(), draft(), probe));
    assertTrue(starting.await(10, TimeUnit.SECONDS));
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    w.tell(new WorkerProtocol.GetStats(stats.getRef()));
    WorkerProtocol.WorkerStats during = stats.receiveMessage(java.time.Duration.ofSeconds(5));
    assertEquals(1, during.queueLength(), "the request being admitted still counts as waiting");
    release.countDown();
    assertEquals("So x.\n\n", text(probe.expectMessageClass(Done.class).generated()));
  }

  /**
   * Freeing a released session's cache may copy the KV pool (a row moved down, a halving): done on
   * the actor's thread, it held the worker's figures from a scrape (a tester saw worker_up 0).
   */
  @Test
  void theWorkerAnswersItsFiguresWhileItFreesAReleasedSessionsCache() throws Exception {
    CountDownLatch freeing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    java.util.concurrent.atomic.AtomicBoolean hold = new java.util.concurrent.atomic.AtomicBoolean();
    ScriptedModel slowFree = new ScriptedModel("slow-free", SCRIPT) {
      @Override
      public void releasingCaches(Runnable frees) {
        if (hold.get()) {
          freeing.countDown();
          awaitRelease(release);
        }
        frees.run();
      }
    };
    ActorRef<WorkerProtocol.Command> w = worker(slowFree, WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("freed", 1, -1, List.of(), draft(), probe));
    probe.expectMessageClass(Done.class);
    // The pass that sent Done frees caches after it: answered figures say it is over.
    assertEquals(1, sessionsCached(w));
    hold.set(true);
    w.tell(new WorkerProtocol.Release("freed"));
    assertTrue(freeing.await(10, TimeUnit.SECONDS));
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    w.tell(new WorkerProtocol.GetStats(stats.getRef()));
    stats.receiveMessage(java.time.Duration.ofSeconds(5));
    w.tell(gen("next", 2, -1, List.of(), draft(), probe));
    probe.expectNoMessage(java.time.Duration.ofMillis(200)); // it waits for the freeing, as for a pass
    release.countDown();
    assertEquals("So x.\n\n", text(probe.expectMessageClass(Done.class).generated()));
    assertEquals(1, sessionsCached(w), "the released session's cache is gone; the new one's kept");
  }

  /** Waits (on a model's thread) until {@code release} opens, 60 s at most. */
  static void awaitRelease(CountDownLatch release) {
    try {
      release.await(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A prompt counted on the worker's thread for long prompts. */
  static final String LONG = "L".repeat(ModelWorker.SHORT_PROMPT + 1);

  /** Holds the count of the prompt {@link #LONG} until released; records what it renders, in order. */
  static final class HeldCount extends ScriptedModel {
    final CountDownLatch counting = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    final List<String> rendered = java.util.Collections.synchronizedList(new java.util.ArrayList<>());

    HeldCount() {
      super("s", SCRIPT);
    }

    @Override
    public int[] renderChat(List<ChatMessage> messages, io.tandem.protocol.ChatTemplateArgs args) {
      rendered.add(messages.get(0).content());
      if (messages.get(0).content().equals(LONG)) {
        counting.countDown();
        awaitRelease(release);
      }
      return super.renderChat(messages, args);
    }
  }

  private static WorkerProtocol.CountTokens count(String content, TestProbe<WorkerProtocol.TokenCount> replyTo) {
    return count(content, replyTo, 0);
  }

  private static WorkerProtocol.CountTokens count(String content, TestProbe<WorkerProtocol.TokenCount> replyTo,
      long timeoutMillis) {
    return new WorkerProtocol.CountTokens(Prompt.chat(List.of(new ChatMessage("user", content))), null, null,
        replyTo.getRef(), timeoutMillis);
  }

  /** A worker of {@code model} whose long prompts' count thread is held in the count of {@link #LONG}. */
  private static ActorRef<WorkerProtocol.Command> countingLong(HeldCount model, TestProbe<WorkerProtocol.TokenCount> counted)
      throws InterruptedException {
    ActorRef<WorkerProtocol.Command> w = worker(model, WorkerSettings.defaults());
    w.tell(count(LONG, counted));
    assertTrue(model.counting.await(30, TimeUnit.SECONDS));
    return w;
  }

  /**
   * A prompt is counted on a thread of its own: a count that takes long (a long prompt's
   * tokenizing) holds no session's steps, as vLLM's API server tokenizes apart from its engine.
   */
  @Test
  void aSlowCountHoldsNoStep() throws Exception {
    HeldCount model = new HeldCount();
    TestProbe<WorkerProtocol.TokenCount> counted = kit.createTestProbe();
    ActorRef<WorkerProtocol.Command> w = countingLong(model, counted);
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("a", 1, -1, List.of(), draft(), probe));
    assertEquals("So x.\n\n", text(probe.expectMessageClass(Done.class).generated()), "a step while the count runs");
    counted.expectNoMessage(java.time.Duration.ZERO);
    model.release.countDown();
    assertEquals(1, counted.expectMessageClass(WorkerProtocol.TokenCount.class).tokens());
  }

  /**
   * A short prompt is counted while a long one is, and waiting long prompts go shortest first: no
   * client's short prompt waits for another's long one (a tester's short request got a 503 behind
   * two prompts of a megabyte).
   */
  @Test
  void shortPromptsAreCountedBesideLongOnesAndLongOnesShortestFirst() throws Exception {
    HeldCount model = new HeldCount();
    TestProbe<WorkerProtocol.TokenCount> counted = kit.createTestProbe();
    ActorRef<WorkerProtocol.Command> w = countingLong(model, counted);
    String longer = LONG + "x";
    w.tell(count(longer + "y", counted));
    w.tell(count(longer, counted));
    TestProbe<WorkerProtocol.TokenCount> shortOne = kit.createTestProbe();
    w.tell(count("hi", shortOne));
    shortOne.expectMessageClass(WorkerProtocol.TokenCount.class);
    counted.expectNoMessage(java.time.Duration.ZERO);
    model.release.countDown();
    for (int i = 0; i < 3; i++) counted.expectMessageClass(WorkerProtocol.TokenCount.class);
    assertEquals(List.of(LONG, "hi", longer, longer + "y"), model.rendered);
  }

  /**
   * A chat whose template variables are long ({@code tools} of a megabyte) is a long prompt though
   * its messages are short: it was counted on the short prompts' thread, ahead of them (as the
   * shortest), and a tester's short requests got 503s behind it.
   */
  @Test
  void aChatWithLongToolsIsCountedAsALongPrompt() throws Exception {
    HeldCount model = new HeldCount();
    TestProbe<WorkerProtocol.TokenCount> counted = kit.createTestProbe();
    ActorRef<WorkerProtocol.Command> w = countingLong(model, counted);
    String tools = "{\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":\""
        + "x".repeat(ModelWorker.SHORT_PROMPT) + "\"}}]}";
    w.tell(new WorkerProtocol.CountTokens(Prompt.chat(List.of(new ChatMessage("user", "with tools")),
        new io.tandem.protocol.ChatTemplateArgs(true, false, tools)), null, null, counted.getRef(), 0));
    TestProbe<WorkerProtocol.TokenCount> shortOne = kit.createTestProbe();
    w.tell(count("hi", shortOne));
    shortOne.expectMessageClass(WorkerProtocol.TokenCount.class);
    model.release.countDown();
    for (int i = 0; i < 2; i++) counted.expectMessageClass(WorkerProtocol.TokenCount.class);
    assertEquals(List.of(LONG, "hi", "with tools"), model.rendered);
  }

  /**
   * A count that waited longer than its asker waits is dropped unread: its asker answered 503 by
   * then, and a client retrying a megabyte prompt would otherwise queue it once per try.
   */
  @Test
  void aCountWhoseAskerGaveUpIsDropped() throws Exception {
    HeldCount model = new HeldCount();
    TestProbe<WorkerProtocol.TokenCount> counted = kit.createTestProbe();
    ActorRef<WorkerProtocol.Command> w = countingLong(model, counted);
    long sent = System.nanoTime();
    w.tell(count(LONG + "abandoned", counted, 1));
    w.tell(count(LONG + "waited for", counted, 60_000));
    TestProbe<WorkerProtocol.TokenCount> shortOne = kit.createTestProbe();
    w.tell(count("hi", shortOne));
    shortOne.expectMessageClass(WorkerProtocol.TokenCount.class); // the worker has received the two long ones
    while (System.nanoTime() - sent < TimeUnit.MILLISECONDS.toNanos(2)) Thread.onSpinWait(); // the 1 ms passed
    model.release.countDown();
    for (int i = 0; i < 2; i++) counted.expectMessageClass(WorkerProtocol.TokenCount.class);
    assertEquals(List.of(LONG, "hi", LONG + "waited for"), model.rendered);
  }

  /**
   * A count called off before it began ({@link WorkerProtocol.CancelCount}: its client left) is
   * dropped unread, and the counts behind it move up; a count already begun is answered. Counts
   * nobody read held live clients' counts behind them: a tester's four cut 1 MB {@code /tokenize}
   * requests made a live client's count time out.
   */
  @Test
  void aCountCalledOffBeforeItBeganIsDropped() throws Exception {
    HeldCount model = new HeldCount();
    TestProbe<WorkerProtocol.TokenCount> begun = kit.createTestProbe();
    ActorRef<WorkerProtocol.Command> w = countingLong(model, begun);
    TestProbe<WorkerProtocol.TokenCount> left = kit.createTestProbe();
    TestProbe<WorkerProtocol.TokenCount> waiting = kit.createTestProbe();
    w.tell(count(LONG + "called off", left));
    w.tell(count(LONG + "still wanted", waiting));
    w.tell(new WorkerProtocol.CancelCount(left.getRef()));
    w.tell(new WorkerProtocol.CancelCount(begun.getRef())); // too late: it runs
    TestProbe<WorkerProtocol.TokenCount> shortOne = kit.createTestProbe();
    w.tell(count("hi", shortOne));
    shortOne.expectMessageClass(WorkerProtocol.TokenCount.class); // the worker has read the call-offs
    model.release.countDown();
    begun.expectMessageClass(WorkerProtocol.TokenCount.class);
    waiting.expectMessageClass(WorkerProtocol.TokenCount.class);
    left.expectNoMessage(java.time.Duration.ZERO);
    assertEquals(List.of(LONG, "hi", LONG + "still wanted"), model.rendered);
  }

  @Test
  void aFullQueueRejectsWithARetryableReason() throws Exception {
    Held model = new Held();
    ActorRef<WorkerProtocol.Command> w = worker(model, new WorkerSettings(1, 1, 1L << 20, true));
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("f1", 1, -1, List.of(), new Limits(null, 1, 1, false, List.of()), probe));
    assertTrue(model.inStep.await(10, TimeUnit.SECONDS));
    w.tell(gen("f2", 2, -1, List.of(), new Limits(null, 1, 1, false, List.of()), probe));
    w.tell(gen("f3", 3, -1, List.of(), new Limits(null, 1, 1, false, List.of()), probe));
    model.release.countDown();
    List<Reply> replies = probe.receiveSeveralMessages(3);
    WorkerProtocol.Rejected r = (WorkerProtocol.Rejected) replies.stream()
        .filter(m -> m instanceof WorkerProtocol.Rejected).findFirst().orElseThrow(() -> new AssertionError("no rejection: " + replies));
    assertEquals(3, r.requestId());
    assertTrue(r.retryable() && r.reason().contains("queue is full"), r.reason());
    assertEquals(2, replies.stream().filter(m -> m instanceof Done).count(), "the others complete: " + replies);
  }

  @Test
  void theStartLineSaysHowManyFullContextSequencesTheKvBudgetHolds() {
    ScriptedModel model = new ScriptedModel("s", SCRIPT); // 4 bytes per token, a context of 2^20 tokens
    long oneSequence = 4L << 20;
    assertEquals("; KV cache budget 8 MiB (4 bytes per token): room for 2 sequence(s) at the full context of 1,048,576 tokens",
        ModelWorker.kvCapacity(model, new WorkerSettings(16, 1, 2 * oneSequence + 3, true)));
    assertEquals(0, ModelWorker.sequencesAtFullContext(model, new WorkerSettings(16, 1, oneSequence - 1, true)));
    assertEquals("; KV cache budget 1 GiB (4 bytes per token): room for a whole batch (16 sequences) at the full context "
        + "of 1,048,576 tokens", ModelWorker.kvCapacity(model, new WorkerSettings(16, 1, 1L << 30, true)));
    assertEquals(null, ModelWorker.budgetWarning(Role.small, model, new WorkerSettings(16, 1, oneSequence, true)));
    assertEquals("one sequence at the full context (1,048,576 tokens) needs 4 MiB of KV cache, more than "
        + "tandem.small.kv-cache-bytes (2 MiB); such a sequence runs alone, past the budget. Raise the budget if the node "
        + "has the memory.", ModelWorker.budgetWarning(Role.small, model, new WorkerSettings(16, 1, oneSequence / 2, true)));
    assertEquals("tandem.small.kv-cache-bytes (3 bytes) is less than the smallest KV cache this model lays out (4 bytes): "
        + "every sequence will run alone, one forward pass each. Raise it.",
        ModelWorker.budgetWarning(Role.small, model, new WorkerSettings(16, 1, 3, true)));
    assertEquals("300 bytes", ModelWorker.bytes(300));
    assertEquals("1.5 MiB", ModelWorker.bytes(3L << 19));
  }

  @Test
  void aReleasedSessionLosesItsCache() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("g", 1, -1, List.of(), draft(), probe));
    probe.expectMessageClass(Done.class);
    w.tell(new WorkerProtocol.Release("g"));
    w.tell(gen("g", 2, 3, List.of(), draft(), probe));
    assertEquals(-1, probe.expectMessageClass(WorkerProtocol.Resync.class).havePosition());
  }

  /**
   * A released session's long cache that inflates the pool's layout (every row given its length)
   * is freed when the session is released, not at the next forward pass: a tester's idle server
   * held 4 GiB of KV cache until its next request.
   */
  @Test
  void aReleasedLongCacheThatInflatesThePoolIsFreedWithoutAnotherPass() {
    List<String> longScript = new java.util.ArrayList<>(SCRIPT);
    for (int i = 0; i < 150; i++) longScript.add(" x");
    ScriptedModel model = new ScriptedModel("s", longScript) {
      /** As a pool lays caches out: rows and capacity in powers of two, 1 byte a token. */
      @Override
      public long cacheBytesFor(int[] cachedTokens) {
        if (cachedTokens.length == 0) return 0;
        int longest = 1;
        for (int n : cachedTokens) longest = Math.max(longest, n);
        return Long.highestOneBit(cachedTokens.length * 2L - 1) * Long.highestOneBit(longest * 2L - 1);
      }
    };
    ActorRef<WorkerProtocol.Command> w = worker(model, new WorkerSettings(16, 1024, 1 << 16, true));
    TestProbe<Reply> probe = kit.createTestProbe();
    w.tell(gen("long", 1, -1, List.of(), new Limits(null, 200, 200, false, List.of()), probe));
    assertEquals(longScript.size() + 1, probe.expectMessageClass(Done.class).generated().size(), "the script and its end");
    for (int i = 0; i < 32; i++) {
      w.tell(gen("short-" + i, 1, -1, List.of(), new Limits(null, 2, 2, false, List.of()), probe));
      probe.expectMessageClass(Done.class);
    }
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    w.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(0, stats.receiveMessage().cacheEvictions());

    // 33 caches: 64 rows of 256 tokens, a quarter of the budget, 43 times what they hold each alone.
    w.tell(new WorkerProtocol.Release("long"));
    // Freed on the step thread: the figures asked meanwhile are those from before.
    stats.awaitAssert(() -> {
      w.tell(new WorkerProtocol.GetStats(stats.getRef()));
      WorkerProtocol.WorkerStats after = stats.receiveMessage();
      assertEquals(1, after.cacheEvictions(), "the released long cache is freed at once");
      assertEquals(32, after.sessionsCached());
      return null;
    });
  }

  /**
   * A session as the orchestrator runs one: its first request's replies come to it through a
   * message adapter, and go on to {@code replies}; it stops without releasing anything when the
   * test stops it (its node killed, say).
   */
  static Behavior<Reply> session(ActorRef<WorkerProtocol.Command> worker, String id, TestProbe<Reply> replies) {
    return Behaviors.setup(ctx -> {
      worker.tell(gen(id, 1, -1, List.of(), draft(), ctx.messageAdapter(Reply.class, r -> r)));
      return Behaviors.receiveMessage(r -> {
        replies.getRef().tell(r);
        return Behaviors.same();
      });
    });
  }

  @Test
  void aSessionThatEndsWithoutReleasingItsCacheIsReleasedAllTheSame() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> replies = kit.createTestProbe();
    ActorRef<Reply> session = kit.spawn(session(w, "i", replies), "session-i");
    replies.expectMessageClass(Done.class);
    assertEquals(1, sessionsCached(w));
    kit.stop(session);
    awaitSessionsCached(w, 0);
    // As a Release does, the worker keeps what the session computed as a prefix for new requests.
    TestProbe<Reply> next = kit.createTestProbe();
    w.tell(gen("j", 1, -1, List.of(), draft(), next));
    next.expectMessageClass(Done.class);
    TestProbe<WorkerProtocol.WorkerStats> stats = kit.createTestProbe();
    w.tell(new WorkerProtocol.GetStats(stats.getRef()));
    assertEquals(1, stats.receiveMessage().prefixCacheHits(), "the new session started from the ended one's cache");
  }

  @Test
  void sessionsWhoseRepliesGoToOneActorAreAllReleasedWhenItStops() {
    ActorRef<WorkerProtocol.Command> w = worker(new ScriptedModel("s", SCRIPT), WorkerSettings.defaults());
    TestProbe<Reply> shared = kit.createTestProbe();
    TestProbe<Reply> other = kit.createTestProbe();
    w.tell(gen("k1", 1, -1, List.of(), draft(), shared));
    w.tell(gen("k2", 2, -1, List.of(), draft(), shared));
    w.tell(gen("k3", 3, -1, List.of(), draft(), other));
    shared.receiveSeveralMessages(2);
    other.expectMessageClass(Done.class);
    w.tell(new WorkerProtocol.Release("k1"));
    awaitSessionsCached(w, 2);
    shared.stop();
    awaitSessionsCached(w, 1);
    w.tell(gen("k3", 4, 3, List.of(), draft(), other));
    assertEquals("Wait, no.\n\n", text(other.expectMessageClass(Done.class).generated()),
        "the session whose replies go elsewhere kept its cache: no resync");
  }
}
