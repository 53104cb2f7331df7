package io.tandem.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.Sequence;
import io.tandem.inference.TokenBuffer;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.ArrayDeque;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worker's scheduling decisions, without an actor or a model. */
class SchedulerTest {

  /** A sequence whose cache is 10 bytes per processed token; {@link #process} plays the model. */
  static final class CountingSequence implements Sequence {
    final TokenBuffer tokens = new TokenBuffer();
    int processed;
    boolean closed;

    void process(int n) {
      processed = Math.min(tokens.length(), processed + n);
    }

    @Override public int length() { return tokens.length(); }
    @Override public int tokenAt(int position) { return tokens.at(position); }
    @Override public void append(int[] ids) { tokens.append(ids); }
    @Override public void truncate(int length) { tokens.truncate(length); processed = Math.min(processed, length); }
    @Override public int processedLength() { return processed; }
    @Override public long cacheBytes() { return processed * 10L; }
    @Override public void dropCache() { processed = 0; }
    @Override public void close() { closed = true; }

    @Override public Sequence forkPrefix(int n, io.tandem.protocol.SamplingParams sampling) {
      CountingSequence fork = new CountingSequence();
      fork.tokens.append(tokens.range(0, n));
      fork.processed = Math.min(processed, n);
      return fork;
    }
  }

  record Req(String sessionId, SessionView view) implements Scheduler.Running {
    @Override public long requestId() { return 1; }
  }

  /** Arrival order, bounded: the smallest queue a scheduler can be given. */
  static final class ArrivalOrder implements AdmissionQueue {
    final ArrayDeque<PendingRequest> q = new ArrayDeque<>();
    final int limit;

    ArrivalOrder(int limit) { this.limit = limit; }
    @Override public boolean offer(PendingRequest r) { return q.size() < limit && q.add(r); }
    @Override public PendingRequest poll() { return q.poll(); }
    @Override public PendingRequest remove(String sessionId) {
      PendingRequest p = q.stream().filter(r -> r.sessionId().equals(sessionId)).findFirst().orElse(null);
      q.remove(p);
      return p;
    }
    @Override public PendingRequest find(String sessionId) {
      return q.stream().filter(r -> r.sessionId().equals(sessionId)).findFirst().orElse(null);
    }
    @Override public int size() { return q.size(); }
  }

  static PendingRequest pending(String session) {
    WorkerProtocol.Generate g = new WorkerProtocol.Generate(session, "t", 1, 0, null, List.of(),
        new WorkerProtocol.Limits(null, 10, 10, false, List.of()), SamplingParams.GREEDY, false, null);
    return new PendingRequest(g, 0);
  }

  static SessionView view(String session, int promptTokens) {
    return new SessionView(session, new CountingSequence(), new int[promptTokens]);
  }

  static Scheduler<Req> scheduler(int maxBatch, boolean batching, long cacheBytes, int prefillChunk) {
    return new Scheduler<>(new WorkerSettings(maxBatch, 100, cacheBytes, batching, prefillChunk), new ArrivalOrder(3));
  }

  @Test
  void admitsWaitingRequestsInQueueOrderUntilTheBatchIsFull() {
    Scheduler<Req> s = scheduler(2, true, 1 << 20, 512);
    for (String id : List.of("a", "b", "c")) assertTrue(s.enqueue(pending(id)));
    Req a = start(s, s.nextToAdmit());
    Req b = start(s, s.nextToAdmit());
    assertEquals(List.of("a", "b"), List.of(a.sessionId(), b.sessionId()));
    assertNull(s.nextToAdmit(), "a batch of two has no room for a third");
    s.finish(a);
    assertEquals("c", s.nextToAdmit().sessionId(), "a finished request makes room at the next pass");
  }

  @Test
  void withBatchingOffOneSequenceRunsAtATime() {
    Scheduler<Req> s = scheduler(16, false, 1 << 20, 512);
    s.enqueue(pending("a"));
    s.enqueue(pending("b"));
    start(s, s.nextToAdmit());
    assertNull(s.nextToAdmit());
    assertEquals(1, s.schedule().sequences().size());
  }

  @Test
  void aFullQueueRefusesAndDroppingASessionFreesItsPlace() {
    Scheduler<Req> s = scheduler(1, true, 1 << 20, 512);
    for (String id : List.of("a", "b", "c")) assertTrue(s.enqueue(pending(id)));
    assertFalse(s.enqueue(pending("d")), "the queue holds three");
    s.drop("b");
    assertTrue(s.enqueue(pending("d")));
    assertEquals("a", s.nextToAdmit().sessionId());
  }

  static PendingRequest ahead(String session) {
    WorkerProtocol.Generate g = new WorkerProtocol.Generate(session, "t", 2, 0, null, List.of(),
        WorkerProtocol.Limits.PREFILL_AHEAD, SamplingParams.GREEDY, false, null);
    return new PendingRequest(g, 0);
  }

  @Test
  void aPrefillAheadNeverTakesAPlaceInTheQueue() {
    Scheduler<Req> s = scheduler(8, true, 1 << 20, 512);
    assertTrue(s.enqueue(ahead("x")));
    assertTrue(s.enqueue(ahead("y")));
    for (String id : List.of("a", "b", "c")) assertTrue(s.enqueue(pending(id)), "the queue of three is still free for " + id);
    assertFalse(s.enqueue(pending("d")), "the queue holds three requests");
    assertEquals(List.of("a", "b", "c", "x", "y"),
        java.util.stream.Stream.generate(s::nextToAdmit).limit(5).map(PendingRequest::sessionId).toList(),
        "queued requests are admitted before prefills ahead that came first");
  }

  @Test
  void aPrefillAheadIsTakenOnlyWhileTheBatchHasRoomForItBesideEverythingElse() {
    Scheduler<Req> s = scheduler(3, true, 1 << 20, 512);
    start(s, pending("running"));
    assertTrue(s.enqueue(pending("queued")));
    assertTrue(s.enqueue(ahead("x")), "one running, one queued: room for a third");
    assertFalse(s.enqueue(ahead("y")), "no room left in a batch of three");
    s.drop("x");
    assertTrue(s.enqueue(ahead("y")), "a dropped prefill ahead frees its room");
    assertTrue(s.hasWork());

    Scheduler<Req> off = scheduler(16, false, 1 << 20, 512);
    assertTrue(off.enqueue(ahead("x")), "with batching off, taken while nothing runs");
    start(off, off.nextToAdmit());
    assertFalse(off.enqueue(ahead("y")), "with batching off, not while something runs");
  }

  @Test
  void aLongPromptIsPrefilledInChunksBesideTheDecodes() {
    Scheduler<Req> s = scheduler(16, true, 1 << 20, 4);
    Req decoding = start(s, pending("decode"));
    ((CountingSequence) decoding.view().sequence).process(3); // its prompt is done; one new token waits
    decoding.view().appendOwn(new int[] {7});
    Req prefilling = start(s, pending("prefill"));
    ((CountingSequence) prefilling.view().sequence).append(new int[7]); // 3 + 7 = 10 unprocessed

    Scheduler.Batch<Req> batch = s.schedule();
    assertEquals(List.of(decoding, prefilling), batch.running());
    assertEquals(List.of(decoding.view().sequence, prefilling.view().sequence), batch.sequences());
    assertEquals(4, batch.maxPrefillTokens(), "at most prefill-chunk tokens per sequence and pass");
    assertEquals(3, batch.prefillTokens(), "4 prompt tokens of the long one, one of them in place of a decode");
  }

  /** A request whose prompt is done, one new token waiting: a decode. */
  private static Req decoding(Scheduler<Req> s, String session) {
    Req r = start(s, pending(session));
    ((CountingSequence) r.view().sequence).process(3);
    r.view().appendOwn(new int[] {7});
    return r;
  }

  /** A request with {@code 3 + more} prompt tokens to prefill. */
  private static Req prefilling(Scheduler<Req> s, String session, int more) {
    Req r = start(s, pending(session));
    ((CountingSequence) r.view().sequence).append(new int[more]);
    return r;
  }

  /**
   * One pass feeds at most {@code max-num-batched-tokens} tokens (vLLM's step budget): the decodes
   * always, then prefill chunks in admission order while the budget lasts; later prefills wait a
   * pass. Long prompts prefilled together each added their chunk to every stream's gap between
   * tokens (a tester: 1.2 s with one 30,000-token prompt in flight, 5.5 s with two).
   */
  @Test
  void prefillsPastThePassBudgetWaitForALaterPassAndDecodesNeverDo() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(16, 100, 1 << 20, true, 4, 256, 10), new ArrivalOrder(8));
    Req d1 = decoding(s, "d1");
    Req p1 = prefilling(s, "p1", 7);
    Req d2 = decoding(s, "d2");
    Req p2 = prefilling(s, "p2", 7);
    Req p3 = prefilling(s, "p3", 0);

    Scheduler.Batch<Req> batch = s.schedule();
    assertEquals(List.of(d1, p1, d2, p2), batch.running(), "2 decodes + 4 + 4 = 10 tokens; p3's 3 more would pass 10");
    assertEquals(List.of(d1.view().sequence, p1.view().sequence, d2.view().sequence, p2.view().sequence), batch.sequences());
    assertEquals(4, batch.maxPrefillTokens());
    assertEquals(6, batch.prefillTokens());

    s.finish(d1);
    s.finish(d2);
    ((CountingSequence) p1.view().sequence).process(8);
    ((CountingSequence) p2.view().sequence).process(4);
    assertEquals(List.of(p1, p2, p3), s.schedule().running(), "2 + 4 + 3 = 9: p3 is in once the decodes have gone");
  }

  /** With no pass budget (0, the default) every running request is in the pass, each with its chunk. */
  @Test
  void withNoPassBudgetEveryPrefillHasItsChunk() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(16, 100, 1 << 20, true, 4, 256, 0), new ArrivalOrder(8));
    Req d1 = decoding(s, "d1");
    Req p1 = prefilling(s, "p1", 7);
    Req p2 = prefilling(s, "p2", 7);
    Req p3 = prefilling(s, "p3", 0);
    Scheduler.Batch<Req> batch = s.schedule();
    assertEquals(List.of(d1, p1, p2, p3), batch.running());
    assertEquals(4, batch.maxPrefillTokens());
    assertEquals(3 + 3 + 2, batch.prefillTokens());
  }

  /**
   * A budget the decodes use up leaves each prefill one token a pass, and the first prefill is
   * always in: every prompt advances, however small the budget.
   */
  @Test
  void underABudgetTheDecodesFillTheFirstPrefillStillAdvances() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(16, 100, 1 << 20, true, 4, 256, 2), new ArrivalOrder(8));
    Req d1 = decoding(s, "d1");
    Req d2 = decoding(s, "d2");
    Req p1 = prefilling(s, "p1", 7);
    prefilling(s, "p2", 7);
    Scheduler.Batch<Req> batch = s.schedule();
    assertEquals(List.of(d1, d2, p1), batch.running());
    assertEquals(1, batch.maxPrefillTokens());
    assertEquals(0, batch.prefillTokens(), "one token, as a decode feeds");
  }

  @Test
  void nothingToRunMeansNoPass() {
    Scheduler<Req> s = scheduler(16, true, 1 << 20, 512);
    assertNull(s.schedule());
    assertFalse(s.hasWork());
    s.enqueue(pending("a"));
    assertTrue(s.hasWork(), "a waiting request calls for a pass");
  }

  @Test
  void overBudgetTheLeastRecentlyUsedIdleSessionsLoseTheirCacheFirst() {
    Scheduler<Req> s = scheduler(16, true, 150, 512);
    Req running = start(s, pending("running"));
    ((CountingSequence) running.view().sequence).process(3); // 30 bytes
    SessionView old = idle(s, "old"); // 100 bytes each
    SessionView recent = idle(s, "recent");
    SessionView newest = idle(s, "newest");
    assertSame(old, s.view("old"), "reading a session marks it used");

    assertEquals(2, s.evictOverBudget(), "330 bytes must come down to 150");
    assertNull(s.view("recent"), "the least recently used idle session goes first");
    assertNull(s.view("newest"));
    assertTrue(((CountingSequence) recent.sequence).closed && ((CountingSequence) newest.sequence).closed);
    assertSame(running.view(), s.view("running"), "a running session keeps its cache though it is the oldest");
    assertSame(old, s.view("old"));
    assertEquals(130, s.cacheBytes());
  }

  @Test
  void underBudgetNothingIsEvicted() {
    Scheduler<Req> s = scheduler(16, true, 1000, 512);
    idle(s, "a");
    idle(s, "b");
    assertEquals(0, s.evictOverBudget());
    assertEquals(2, s.sessions());
  }

  private static Req start(Scheduler<Req> s, PendingRequest p) {
    SessionView v = view(p.sessionId(), 3);
    s.keep(v);
    Req r = new Req(p.sessionId(), v);
    s.start(r);
    return r;
  }

  /** A released session's view of {@code tokens} processed tokens, its first the session's own (no other covers it). */
  private static SessionView released(Scheduler<Req> s, String session, int tokens) {
    int[] prompt = new int[tokens];
    if (tokens > 0) prompt[0] = session.hashCode();
    SessionView v = processed(session, prompt);
    s.keep(v);
    s.retire(v.sessionId);
    return v;
  }

  private static SessionView idle(Scheduler<Req> s, String session) {
    SessionView v = view(session, 10);
    ((CountingSequence) v.sequence).process(10);
    s.keep(v);
    return v;
  }

  static SessionView processed(String session, int... prompt) {
    CountingSequence seq = new CountingSequence();
    SessionView v = new SessionView(session, seq, prompt);
    seq.process(prompt.length);
    return v;
  }

  @Test
  void aNewPromptStartsFromTheLongestProcessedPrefixAnySessionHolds() {
    Scheduler<Req> s = scheduler(4, true, 1 << 20, 512);
    s.keep(processed("a", 1, 2, 3, 9));
    s.keep(processed("b", 1, 2, 3, 4, 5));
    Scheduler.Prefix p = s.longestPrefix(new int[] {1, 2, 3, 4, 7});
    assertEquals("b", p.view().sessionId);
    assertEquals(4, p.length());
    assertEquals(null, s.longestPrefix(new int[] {8, 1}), "no shared first token, no prefix");
  }

  /**
   * Tenants share no prefix: a tester's tenant B got {@code cached_tokens: 25} of 26 for the prompt
   * tenant A had just sent, which told B what A sent. A released cache of one tenant frees no kept
   * prefix of another either.
   */
  @Test
  void aPrefixIsSharedWithinItsTenantOnly() {
    Scheduler<Req> s = scheduler(4, true, 1 << 20, 512);
    CountingSequence seq = new CountingSequence();
    SessionView a = new SessionView("a", "team-a", seq, new int[] {1, 2, 3, 4});
    seq.process(4);
    s.keep(a);
    s.retire("a");
    assertEquals(null, s.longestPrefix(new int[] {1, 2, 3, 4, 5}, "team-b"), "another tenant's prompt");
    assertEquals(null, s.longestPrefix(new int[] {1, 2, 3, 4, 5}), "a prompt of no tenant");
    assertEquals(4, s.longestPrefix(new int[] {1, 2, 3, 4, 5}, "team-a").length(), "its own tenant's");
    CountingSequence longer = new CountingSequence();
    s.keep(new SessionView("b", "team-b", longer, new int[] {1, 2, 3, 4, 5}));
    longer.process(5);
    s.retire("b");
    assertFalse(seq.closed, "team-b's cache holds team-a's whole, but is no prefix team-a may use");
    assertEquals("a", s.longestPrefix(new int[] {1, 2, 3, 4, 5, 6}, "team-a").view().sessionId);
  }

  @Test
  void aReleasedSessionsCacheServesAsAPrefixUntilNewerOnesReplaceIt() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(4, 100, 1 << 20, true, 512, 1), new ArrivalOrder(3));
    SessionView a = processed("a", 1, 2, 3);
    s.keep(a);
    s.retire("a");
    assertEquals(null, s.view("a"), "the session is over: a request of it resyncs");
    assertEquals(3, s.longestPrefix(new int[] {1, 2, 3, 4}).length(), "its tokens still start a new sequence");
    s.keep(processed("b", 5));
    s.retire("b");
    assertTrue(((CountingSequence) a.sequence).closed, "prefix-cache-sequences = 1: the older one is freed");
    assertEquals(null, s.longestPrefix(new int[] {1, 2, 3, 4}));
  }

  /**
   * A released cache that holds a kept prefix whole (the next turn of a chat, or an engine's next
   * takeover of one session, forked from it) frees that prefix: it offers every match the older one
   * did. A prefix it only shares a beginning with stays.
   */
  @Test
  void aReleasedCacheFreesTheKeptPrefixesItHoldsWhole() {
    Scheduler<Req> s = scheduler(4, true, 1 << 20, 512);
    SessionView turn1 = processed("turn-1", 1, 2, 3);
    SessionView same = processed("same", 1, 2, 3);
    SessionView other = processed("other", 1, 2, 9);
    for (SessionView v : List.of(turn1, same, other)) {
      s.keep(v);
      s.retire(v.sessionId);
    }
    assertTrue(((CountingSequence) turn1.sequence).closed, "the same tokens released again: one copy stays");
    assertFalse(((CountingSequence) same.sequence).closed);

    SessionView turn2 = processed("turn-2", 1, 2, 3, 4, 5);
    s.keep(turn2);
    s.retire("turn-2");
    assertTrue(((CountingSequence) same.sequence).closed, "the next turn holds the first whole");
    assertFalse(((CountingSequence) other.sequence).closed, "a prompt that parts from it at the third token stays");
    assertFalse(((CountingSequence) turn2.sequence).closed);
    assertEquals(3, s.longestPrefix(new int[] {1, 2, 3, 7}).length(), "the first turn's tokens still start a sequence");
    assertEquals("turn-2", s.longestPrefix(new int[] {1, 2, 3, 7}).view().sessionId);
    assertEquals(3, s.longestPrefix(new int[] {1, 2, 9, 7}).length());
  }

  /** vLLM's /reset_prefix_cache: what released sessions left is freed; a live session keeps its cache. */
  @Test
  void resettingThePrefixCacheFreesReleasedSessionsCachesOnly() {
    Scheduler<Req> s = scheduler(4, true, 1 << 20, 512);
    SessionView done = processed("done", 1, 2, 3);
    SessionView live = processed("live", 7, 8);
    s.keep(done);
    s.keep(live);
    s.retire("done");
    assertEquals(1, s.resetPrefixCache());
    assertTrue(((CountingSequence) done.sequence).closed, "the released session's cache is freed");
    assertEquals(null, s.longestPrefix(new int[] {1, 2, 3, 4}), "and no longer starts a new sequence");
    assertFalse(((CountingSequence) live.sequence).closed);
    assertEquals(2, s.longestPrefix(new int[] {7, 8, 9}).length(), "a running session's tokens still do");
    assertEquals(0, s.resetPrefixCache(), "nothing left to free");
  }

  /** vLLM's kv_cache_usage_perc counts the blocks in use: the caches released sessions left as prefixes count as free. */
  @Test
  void theCacheInUseIsTheLiveSessionsWithoutTheReleasedOnesKept() {
    Scheduler<Req> s = scheduler(4, true, 1 << 20, 512); // 10 bytes per processed token
    released(s, "done", 5);
    idle(s, "live");
    Req running = start(s, pending("running"));
    ((CountingSequence) running.view().sequence).process(3);
    assertEquals(130, s.cacheBytesInUse());
    assertEquals(180, s.cacheBytes());
  }

  @Test
  void overTheBudgetReleasedSessionsCachesGoBeforeLiveSessions() {
    Scheduler<Req> s = scheduler(4, true, 50, 512); // 10 bytes per processed token
    SessionView live = processed("live", 1, 2, 3);
    SessionView old = processed("old", 4, 5, 6);
    s.keep(live);
    s.keep(old);
    s.retire("old");
    assertEquals(1, s.evictOverBudget());
    assertTrue(((CountingSequence) old.sequence).closed);
    assertEquals(live, s.view("live"));
  }

  /** A model's accounting of {@code bytesPerToken} per cached token, counting the trims asked of it. */
  static final class Accounting implements Scheduler.Caches {
    final long bytesPerToken;
    int trims;

    Accounting(long bytesPerToken) {
      this.bytesPerToken = bytesPerToken;
    }

    @Override public long bytesFor(int[] cachedTokens) {
      long tokens = 0;
      for (int n : cachedTokens) tokens += n;
      return tokens * bytesPerToken;
    }

    @Override public void trim() { trims++; }
  }

  /** A scheduler whose model holds 10 bytes per cached token, as CountingSequence counts them. */
  static Scheduler<Req> budgeted(int maxBatch, long cacheBytes) {
    return new Scheduler<>(new WorkerSettings(maxBatch, 100, cacheBytes, true, 512), new ArrivalOrder(8), new Accounting(10));
  }

  /** A running request of {@code tokens} processed tokens, admitted as the worker admits one. */
  private static Req running(Scheduler<Req> s, String session, int tokens) {
    SessionView v = view(session, tokens);
    ((CountingSequence) v.sequence).process(tokens);
    v.appendOwn(new int[] {1}); // its next token, for the next pass
    s.keep(v);
    Req r = new Req(session, v);
    assertTrue(s.start(r), session + " fits");
    return r;
  }

  /** Two requests of 14 tokens on a budget of 30, after a decode pass that takes each to 16 for the next. */
  private static List<Req> outgrowingTheBudget(Scheduler<Req> s) {
    Req first = running(s, "first", 14);
    Req second = running(s, "second", 14);
    decoded(first, second);
    return List.of(first, second);
  }

  /** A decode pass: each sequence's last token cached and a new one sampled. */
  private static void decoded(Req... runs) {
    for (Req r : runs) {
      ((CountingSequence) r.view().sequence).process(1);
      r.view().appendOwn(new int[] {2});
    }
  }

  @Test
  void aBatchThatOutgrowsTheBudgetPreemptsTheLatestAdmittedFirst() {
    Scheduler<Req> s = budgeted(8, 300); // 30 cached tokens
    Req first = running(s, "first", 9);
    Req second = running(s, "second", 9);
    Req third = running(s, "third", 9); // 3 x 10 tokens after the next pass: exactly the budget
    assertEquals(List.of(), s.preemptOverBudget());

    decoded(first, second, third); // 11 tokens each after the next pass, 33 in all
    assertEquals(List.of(third), s.preemptOverBudget(), "the most recently admitted goes first, and only what is needed");
    assertEquals(0, third.view().sequence.processedLength(), "its cache is dropped");
    assertEquals(11, third.view().sequence.length(), "its tokens stay, to be recomputed");
    assertEquals(List.of(first, second), s.schedule().running());
    assertEquals(1, s.waiting(), "counted as waiting, as vLLM counts a preempted request");
    assertSame(third.view(), s.view("third"), "the session keeps its view");
  }

  @Test
  void preemptedRequestsResumeBeforeNewOnesWhenTheirWholeSequenceFits() {
    Scheduler<Req> s = budgeted(8, 300);
    List<Req> two = outgrowingTheBudget(s);
    Req first = two.get(0);
    Req second = two.get(1);
    assertEquals(List.of(second), s.preemptOverBudget(), "16 + 16 cached tokens would pass 30");
    s.enqueue(pending("new"));
    assertEquals(0, s.resumePreempted(), "second's 16 tokens beside first's 16 still do not fit");
    assertNull(s.nextToAdmit(), "a new request waits behind the preempted one");
    assertTrue(s.hasWork());

    s.finish(first);
    assertEquals(1, s.resumePreempted());
    assertEquals(List.of(second), s.schedule().running());
    assertEquals("new", s.nextToAdmit().sessionId(), "with nothing preempted, new requests are admitted again");
  }

  @Test
  void aRequestAdmittedWithoutRoomDropsItsCacheAndWaitsWithThePreempted() {
    Scheduler<Req> s = budgeted(8, 300);
    running(s, "first", 19);
    SessionView big = view("big", 15);
    ((CountingSequence) big.sequence).process(15);
    s.keep(big);
    Req r = new Req("big", big);
    assertFalse(s.start(r), "20 + 15 tokens pass 30");
    assertEquals(0, big.sequence.processedLength());
    assertEquals(1, s.running());
    assertEquals(0, s.evictOverBudget(), "its view is not an idle session's: not evicted");
    assertSame(big, s.view("big"));
  }

  @Test
  void theLastRunningSequenceIsNeverPreemptedNorRefused() {
    Scheduler<Req> s = budgeted(8, 10);
    Req alone = running(s, "alone", 50); // 510 bytes after the next pass, over a budget of 10
    assertEquals(List.of(), s.preemptOverBudget());
    assertEquals(List.of(alone), s.schedule().running());
  }

  @Test
  void droppingASessionDropsItsPreemptedRequest() {
    Scheduler<Req> s = budgeted(8, 300);
    outgrowingTheBudget(s);
    assertEquals(1, s.preemptOverBudget().size());
    s.drop("second");
    assertEquals(0, s.waiting());
    assertEquals(0, s.preempted());
  }

  @Test
  void slackTheModelCanGiveBackCostsNoSessionItsCache() {
    // The sequences report 10 bytes per token (their share of a pool with room to spare); laid out
    // at its smallest, the model would need 5.
    Accounting half = new Accounting(5);
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 200, true, 512), new ArrivalOrder(8), half);
    idle(s, "a");
    idle(s, "b");
    idle(s, "c"); // 300 bytes reported, 150 needed
    assertEquals(0, s.evictOverBudget(), "150 bytes fit 200: no cache is evicted");
    assertEquals(1, half.trims, "the model is asked to give back its slack");
    assertEquals(3, s.sessions());
  }

  /**
   * The in-process model's layout: rows and capacity rounded up to powers of two, every row with
   * the longest cache's capacity (KvPool#bytesFor), 1 byte per token.
   */
  static final class PoolLayout implements Scheduler.Caches {
    @Override public long bytesFor(int[] cachedTokens) {
      if (cachedTokens.length == 0) return 0;
      long rows = Long.highestOneBit(cachedTokens.length * 2L - 1);
      int longest = 1;
      for (int n : cachedTokens) longest = Math.max(longest, n);
      return rows * Long.highestOneBit(longest * 2L - 1);
    }

    @Override public void trim() {}
  }

  /**
   * Released sessions' prompts kept as prefixes are freed, least recently used first, while the
   * layout they inflate (every row given the longest length) holds more than an eighth of the budget
   * and more than four times what the caches would hold each alone; before that they are kept, and
   * none is freed where a live session's long cache would inflate the layout as much without them.
   */
  @Test
  void releasedPrefixesThatInflateALargeLayoutAreFreed() {
    // 1 byte per token; an eighth of the budget is 2^20 bytes.
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 8L << 20, true, 512), new ArrivalOrder(8),
        new PoolLayout());
    int[] longer = new int[30_000];
    longer[0] = 1; // not the other prompt continued, which would leave one prefix covering both
    List<SessionView> prefixes = List.of(processed("long", new int[20_000]), processed("longer", longer));
    for (SessionView v : prefixes) {
      s.keep(v);
      s.retire(v.sessionId);
    }
    for (int i = 0; i < 14; i++) idle(s, "short-" + i);
    assertEquals(0, s.evictOverBudget(), "16 rows of 32,768: half the threshold");
    assertFalse(((CountingSequence) prefixes.get(1).sequence).closed);

    for (int i = 14; i < 32; i++) idle(s, "short-" + i);
    assertEquals(2, s.evictOverBudget(), "64 rows of 32,768, far more than 4 x what the 34 caches hold alone: both go"
        + " (the second still inflates 64 rows once the first is freed)");
    for (SessionView v : prefixes) assertTrue(((CountingSequence) v.sequence).closed, v.sessionId + " is freed");

    SessionView liveLong = processed("live-long", new int[20_000]);
    s.keep(liveLong);
    SessionView released = processed("released-long", new int[20_000]);
    s.keep(released);
    s.retire("released-long");
    assertEquals(0, s.evictOverBudget(), "the live long cache inflates the layout as much without it");
    assertSame(liveLong, s.view("live-long"));
    assertFalse(((CountingSequence) released.sequence).closed);
  }

  /**
   * A tester's run: many prompts of about one length, released, all stay cached while they fit the
   * budget, however their count rounds the rows up (64 rows of 32 for 40 caches).
   */
  @Test
  void manyReleasedPrefixesOfAboutOneLengthStayCached() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 4096, true, 512), new ArrivalOrder(8), new PoolLayout());
    List<SessionView> released = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      released.add(released(s, "s" + i, 20 + i % 5));
      assertEquals(0, s.evictOverBudget(), "after " + (i + 1) + " prompts");
    }
    for (SessionView v : released) assertFalse(((CountingSequence) v.sequence).closed);
  }

  /**
   * What counts is the room released prefixes add beside the live caches: a tester's 20,000-token
   * prompt beside 40 live chats laid the pool out at a quarter of the budget by itself, and the rule
   * then freed nothing while finished chats' prefixes took it to the whole 4 GiB. Where the live
   * caches alone need all the rows the prefixes occupy, they add nothing and stay.
   */
  @Test
  void releasedPrefixesAreFreedByTheRoomTheyAddBesideLiveCachesThatAloneAreLarge() {
    // 1 byte per token; an eighth of the budget is 2^20 bytes.
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 8L << 20, true, 512), new ArrivalOrder(8),
        new PoolLayout());
    s.keep(processed("live-long", new int[20_000]));
    for (int i = 0; i < 40; i++) idle(s, "live-" + i);
    List<SessionView> released = new java.util.ArrayList<>();
    for (int i = 0; i < 23; i++) {
      released.add(released(s, "s" + i, 20));
    }
    assertEquals(0, s.evictOverBudget(), "64 caches in 64 rows of 32,768 (2 MiB): the live 41 alone need them all");
    for (int i = 23; i < 100; i++) {
      released.add(released(s, "s" + i, 20));
    }
    assertEquals(77, s.evictOverBudget(), "141 caches in 256 rows (8 MiB), 6 MiB of them for 100 prefixes of 20 tokens:"
        + " freed back to 64 rows");
    for (int i = 0; i < 100; i++)
      assertEquals(i < 77, ((CountingSequence) released.get(i).sequence).closed, "prefix " + i + ", least recently used first");
  }

  /**
   * A model whose caches share a pool of {@code rows} rows that has grown large: a new sequence
   * copies it when the open sequences fill every row.
   */
  static final class FullPool implements Scheduler.Caches {
    final int rows;
    final List<SessionView> views = new java.util.ArrayList<>();
    int releasingCalls;

    FullPool(int rows) {
      this.rows = rows;
    }

    @Override public long bytesFor(int[] cachedTokens) { return cachedTokens.length; }
    @Override public void trim() {}
    @Override public boolean newSequenceCopiesCaches() {
      return views.stream().filter(v -> !((CountingSequence) v.sequence).closed).count() >= rows;
    }
    @Override public void releasing(Runnable frees) {
      releasingCalls++;
      frees.run();
    }
  }

  /**
   * Released sessions' prefixes give their rows to a new sequence, least recently used first and
   * never the prefix it is about to copy, rather than the model doubling a large pool (a copy of all
   * of it): in a 50-session evaluation the demo's large worker grew its pool from 64 to 256 rows for
   * kept prefixes, 3.3 s of copying. Where a new sequence costs no such copy, every prefix stays.
   */
  @Test
  void releasedPrefixesGiveTheirRowsToANewSequenceRatherThanALargePoolDoubling() {
    FullPool pool = new FullPool(8);
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 1L << 30, true, 512), new ArrivalOrder(8), pool);
    for (int i = 0; i < 3; i++) pool.views.add(idle(s, "live-" + i));
    List<SessionView> released = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) released.add(released(s, "done-" + i, 10));
    pool.views.addAll(released);
    assertEquals(0, s.yieldPrefixesToNewSequence(null), "7 of 8 rows: the new sequence takes the free one");

    SessionView last = released(s, "done-4", 10);
    released.add(last);
    pool.views.add(last);
    SessionView keep = released.get(0);
    assertEquals(1, s.yieldPrefixesToNewSequence(keep), "8 of 8 rows: one prefix gives its row up");
    assertEquals(1, pool.releasingCalls, "inside one releasing call of the model");
    for (int i = 0; i < released.size(); i++)
      assertEquals(i == 1, ((CountingSequence) released.get(i).sequence).closed,
          "the least recently used but the one about to be copied: done-1 only, not done-" + i);
    for (int i = 0; i < 3; i++) assertFalse(((CountingSequence) pool.views.get(i).sequence).closed, "live sessions stay");

    FullPool only = new FullPool(2);
    Scheduler<Req> t = new Scheduler<>(new WorkerSettings(8, 100, 1L << 30, true, 512), new ArrivalOrder(8), only);
    only.views.add(idle(t, "live"));
    SessionView source = released(t, "done", 10);
    only.views.add(source);
    assertEquals(0, t.yieldPrefixesToNewSequence(source), "the prefix to copy stays even if the pool must grow");
    assertFalse(((CountingSequence) source.sequence).closed);
  }

  /**
   * A pass's evictions run inside the model's {@link Scheduler.Caches#releasing}, so that a pool
   * freeing many caches shrinks once, after them (each halving copies it: a tester's worker held its
   * thread 2.6 s freeing 171 prefixes).
   */
  @Test
  void evictionsRunInsideOneReleasingCallOfTheModel() {
    List<SessionView> released = new java.util.ArrayList<>();
    int[] closedInside = new int[1];
    int[] calls = new int[1];
    PoolLayout layout = new PoolLayout();
    Scheduler.Caches caches = new Scheduler.Caches() {
      @Override public long bytesFor(int[] cachedTokens) { return layout.bytesFor(cachedTokens); }
      @Override public void trim() {}
      @Override public void releasing(Runnable frees) {
        calls[0]++;
        long before = released.stream().filter(v -> ((CountingSequence) v.sequence).closed).count();
        frees.run();
        closedInside[0] += (int) (released.stream().filter(v -> ((CountingSequence) v.sequence).closed).count() - before);
      }
    };
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 8L << 20, true, 512), new ArrivalOrder(8), caches);
    s.keep(processed("live-long", new int[20_000]));
    for (int i = 0; i < 40; i++) released.add(released(s, "s" + i, 20));
    assertEquals(9, s.evictOverBudget());
    assertEquals(1, calls[0]);
    assertEquals(9, closedInside[0], "every eviction inside the model's call");
  }

  /**
   * Beside a live long prompt, released short prefixes (each row given its length) are freed, least
   * recently used first, until the layout is no longer large: a tester's 255 twenty-token prefixes
   * beside a 20,000-token prompt filled a 4 GiB budget.
   */
  @Test
  void releasedShortPrefixesBesideALiveLongPromptAreFreedUntilTheLayoutIsSmall() {
    Scheduler<Req> s = new Scheduler<>(new WorkerSettings(8, 100, 8L << 20, true, 512), new ArrivalOrder(8),
        new PoolLayout());
    List<SessionView> released = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      released.add(released(s, "s" + i, 20));
    }
    assertEquals(0, s.evictOverBudget(), "64 rows of 32: small");
    s.keep(processed("live-long", new int[20_000]));
    assertEquals(9, s.evictOverBudget(), "41 caches: 64 rows of 32,768; 32 rows are an eighth of the budget");
    for (int i = 0; i < 40; i++)
      assertEquals(i < 9, ((CountingSequence) released.get(i).sequence).closed, "prefix " + i + ", least recently used first");
  }
}
