package io.tandem.worker;

import io.tandem.inference.LanguageModel;
import io.tandem.inference.Sequence;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a worker decides between two forward passes, as vLLM's scheduler does, apart from the actor
 * that talks ({@link ModelWorker}) and the model that computes: which waiting requests join the
 * running batch (admission, in the order the role's {@link AdmissionQueue} gives), which sequences
 * the next forward pass runs and how many prompt tokens each may prefill in it (chunked prefill),
 * which sessions' caches to drop when the cache outgrows its byte budget (least recently used
 * first, never one that is running), and, when the running sequences' own caches would outgrow it,
 * which of them to preempt (vLLM's preemption by recomputation: the most recently admitted drops its
 * cache and waits, ahead of every new request, until there is room to prefill it again).
 *
 * <p>A plain class, not thread-safe: the worker's actor owns it.
 *
 * @param <R> a request in the running batch, as the worker keeps it
 */
final class Scheduler<R extends Scheduler.Running> {

  /**
   * What the scheduler asks of the model about its caches' memory, for the {@code kv-cache-bytes}
   * budget: the bytes caches of given lengths would take in its smallest layout, and giving back
   * the slack it keeps beyond that (a pool that grows in steps and shrinks only when mostly unused).
   */
  interface Caches {
    /** Bytes for caches of {@code cachedTokens} tokens each, were they the model's only ones. */
    long bytesFor(int[] cachedTokens);

    /** Brings the memory held down to {@link #bytesFor} of the caches alive (it may copy them). */
    void trim();

    /** Whether a new sequence would make the model grow its caches' shared storage by a costly copy ({@link LanguageModel#newSequenceCopiesCaches}). */
    default boolean newSequenceCopiesCaches() {
      return false;
    }

    /** Runs {@code frees}, which closes caches, the memory given back once at its end where the model can. */
    default void releasing(Runnable frees) {
      frees.run();
    }

    /**
     * The model's own accounting: {@link LanguageModel#cacheBytesFor}, {@link LanguageModel#trimCache}
     * and {@link LanguageModel#releasingCaches}.
     */
    static Caches of(LanguageModel model) {
      return new Caches() {
        @Override
        public long bytesFor(int[] cachedTokens) {
          return model.cacheBytesFor(cachedTokens);
        }

        @Override
        public void trim() {
          model.trimCache();
        }

        @Override
        public boolean newSequenceCopiesCaches() {
          return model.newSequenceCopiesCaches();
        }

        @Override
        public void releasing(Runnable frees) {
          model.releasingCaches(frees);
        }
      };
    }
  }

  /** A request in the running batch: the session it belongs to and that session's view. */
  interface Running {
    String sessionId();

    /** The {@link io.tandem.protocol.worker.WorkerProtocol.Generate#requestId()} this runs. */
    long requestId();

    SessionView view();
  }

  /**
   * One forward pass: the requests it runs, their sequences in the same order, and the most
   * unprocessed tokens the model may feed per sequence ({@code maxPrefillTokens}).
   *
   * @param prefillTokens the prompt tokens this pass feeds beyond one per sequence (what is fed on
   *     top of a plain decode pass), for the worker's metrics
   */
  record Batch<R>(List<R> running, List<Sequence> sequences, int maxPrefillTokens, int prefillTokens) {}

  private final WorkerSettings settings;
  private final AdmissionQueue waiting;
  private final List<R> running = new ArrayList<>();
  /**
   * Requests out of the running batch for want of cache room, their caches dropped: preempted, or
   * admitted when there was none. They resume before any waiting request is admitted, the most
   * recently preempted first, as vLLM puts preempted requests back at the front of its queue.
   */
  private final Deque<R> preempted = new ArrayDeque<>();
  /**
   * Prefills ahead ({@link io.tandem.protocol.worker.WorkerProtocol.Limits#prefillAhead}) taken for
   * the next admission, outside the admission queue: work a session does not wait for, so it never
   * holds a place in the bounded queue (nor a tenant's share of it) that a request could have had,
   * and it is admitted after every waiting request.
   */
  private final Deque<PendingRequest> aheads = new ArrayDeque<>();
  /** The model's cache accounting; null when its sequences hold no cache of their own (a remote engine's). */
  private final Caches caches;
  /** Access order: iteration starts at the least recently used session. */
  private final Map<String, SessionView> views = new LinkedHashMap<>(16, 0.75f, true);
  /**
   * Views of released sessions, kept (least recently used first) only as prefixes for new
   * sequences, as vLLM keeps a finished request's blocks cached until it needs the room.
   */
  private final Map<Long, SessionView> retired = new LinkedHashMap<>(16, 0.75f, true);
  private long retiredCount;

  /**
   * A scheduler whose model keeps no accounting of its own (a remote engine's worker, whose
   * sequences hold ids only): it never preempts, and evicts by the bytes its sequences report.
   */
  Scheduler(WorkerSettings settings, AdmissionQueue waiting) {
    this(settings, waiting, null);
  }

  /** @param caches the model's cache accounting ({@link Caches#of}), for the budget checks */
  Scheduler(WorkerSettings settings, AdmissionQueue waiting, Caches caches) {
    this.settings = settings;
    this.waiting = waiting;
    this.caches = caches;
  }

  /**
   * Queues a request; false when the queue is full (the worker rejects it). A prefill ahead is
   * taken only while the running batch has room for it beside everything running, preempted,
   * queued and ahead of it ({@code max-batch}, one sequence with batching off), so that it starts at
   * the next admission and never delays nor displaces a request; false otherwise (its session's
   * takeover prefills instead).
   */
  boolean enqueue(PendingRequest request) {
    if (!request.request().limits().prefillAhead()) return waiting.offer(request);
    if (running.size() + preempted.size() + waiting.size() + aheads.size() >= settings.effectiveBatch()) return false;
    return aheads.add(request);
  }

  /** Why the queue refused {@code request} ({@link AdmissionQueue#whyFull}). */
  AdmissionQueue.Full whyFull(PendingRequest request, String keys) {
    return waiting.whyFull(request, keys);
  }

  /**
   * The next waiting request to admit when the running batch has room ({@code max-batch}, or one
   * sequence when batching is off) and no preempted request waits to resume, queued requests before
   * prefills ahead; null otherwise or when nothing waits. The worker syncs the request's session and
   * then either {@link #start}s it or answers it at once.
   */
  /**
   * Whether a waiting request (or a prefill ahead) may be admitted at the next pass: the running
   * batch has room for it. Admission may fork a cached prefix, a copy of its KV cache.
   */
  boolean mayAdmit() {
    return running.size() < settings.effectiveBatch() && (waiting.size() > 0 || !aheads.isEmpty());
  }

  /** Takes every request still waiting for admission, queued ones and prefills ahead, in their order. */
  List<PendingRequest> takeAllWaiting() {
    List<PendingRequest> out = new ArrayList<>();
    for (PendingRequest p; (p = waiting.poll()) != null; ) out.add(p);
    for (PendingRequest p; (p = aheads.poll()) != null; ) out.add(p);
    return out;
  }

  PendingRequest nextToAdmit() {
    if (running.size() >= settings.effectiveBatch() || !preempted.isEmpty()) return null;
    PendingRequest next = waiting.poll();
    return next != null ? next : aheads.poll();
  }

  /**
   * Adds an admitted request to the running batch when its cache, after the next pass, fits {@code
   * kv-cache-bytes} beside the running ones' (or nothing runs); otherwise it drops its cache and
   * waits with the preempted requests.
   *
   * @return whether it runs
   */
  boolean start(R request) {
    if (!fits(request)) {
      request.view().sequence.dropCache();
      preempted.addFirst(request);
      return false;
    }
    running.add(request);
    return true;
  }

  /**
   * Puts preempted requests back in the running batch, in their order, while the batch has room
   * and the next one's whole sequence fits the cache budget beside the running ones' (or nothing
   * runs). Each prefills every token again (in chunks) before it samples.
   *
   * @return how many resumed
   */
  int resumePreempted() {
    int n = 0;
    for (R next; (next = preempted.peekFirst()) != null && running.size() < settings.effectiveBatch() && fits(next); n++) {
      preempted.pollFirst();
      running.add(next);
    }
    return n;
  }

  /**
   * Takes running requests out of the batch, the most recently admitted first, until the running
   * sequences' caches after the next pass fit {@code kv-cache-bytes} (one always runs, whatever its
   * cache): each drops its cache and waits ahead of every waiting request (vLLM's preemption by
   * recomputation). Without it a batch whose sequences grow would take memory past the budget,
   * however much the node has.
   *
   * @return the requests preempted, in the order they were taken out
   */
  List<R> preemptOverBudget() {
    List<R> out = new ArrayList<>();
    while (running.size() > 1 && bytesFor(nextLengths(running, null)) > settings.kvCacheBytes()) {
      R r = running.remove(running.size() - 1);
      r.view().sequence.dropCache();
      preempted.addFirst(r);
      out.add(r);
    }
    return out;
  }

  /** Bytes the running sequences' caches need after the next pass ({@link Caches#bytesFor}); 0 without the model's accounting. */
  long nextPassBytes() {
    return bytesFor(nextLengths(running, null));
  }

  /** Whether {@code candidate} may run beside the running batch within the budget: always when nothing runs. */
  private boolean fits(R candidate) {
    return running.isEmpty()
        || bytesFor(nextLengths(running, candidate)) <= settings.kvCacheBytes();
  }

  private long bytesFor(int[] cachedTokens) {
    return caches == null ? 0 : caches.bytesFor(cachedTokens);
  }

  /**
   * The tokens each sequence's cache holds after the next pass: a running one's processed tokens
   * plus what the pass feeds it (a prefill chunk at most); a candidate's whole sequence, so that one
   * that resumes does not have to be preempted again before it has caught up.
   */
  private int[] nextLengths(List<R> runs, R candidate) {
    int[] lengths = new int[runs.size() + (candidate == null ? 0 : 1)];
    for (int i = 0; i < runs.size(); i++) {
      Sequence s = runs.get(i).view().sequence;
      lengths[i] = (int) Math.min(s.length(), (long) s.processedLength() + settings.prefillChunk());
    }
    if (candidate != null) lengths[runs.size()] = candidate.view().sequence.length();
    return lengths;
  }

  /** Takes a request out of the running batch (it finished). */
  void finish(R request) {
    running.remove(request);
  }

  /** Takes a session's prefill ahead out of the queue, where it waits unadmitted; null when none does. */
  PendingRequest takeQueuedAhead(String sessionId) {
    for (Iterator<PendingRequest> it = aheads.iterator(); it.hasNext(); ) {
      PendingRequest p = it.next();
      if (p.sessionId().equals(sessionId)) {
        it.remove();
        return p;
      }
    }
    return null;
  }

  /** Drops a session's waiting, preempted and running requests (cancelled, released or re-sent). */
  void drop(String sessionId) {
    waiting.remove(sessionId);
    aheads.removeIf(p -> p.sessionId().equals(sessionId));
    preempted.removeIf(r -> r.sessionId().equals(sessionId));
    running.removeIf(r -> r.sessionId().equals(sessionId));
  }

  /**
   * Whether request {@code requestId} of the session waits here (in the queue, as a prefill ahead,
   * preempted) or runs: what a {@link io.tandem.protocol.worker.WorkerProtocol.GetStepStatus} asks.
   */
  boolean holds(String sessionId, long requestId) {
    PendingRequest waits = waiting.find(sessionId);
    if (waits != null && waits.request().requestId() == requestId) return true;
    for (PendingRequest p : aheads) if (p.sessionId().equals(sessionId) && p.request().requestId() == requestId) return true;
    for (R r : preempted) if (r.sessionId().equals(sessionId) && r.requestId() == requestId) return true;
    for (R r : running) if (r.sessionId().equals(sessionId) && r.requestId() == requestId) return true;
    return false;
  }

  /** Empties the running batch and returns what it held (the forward pass failed for all of them). */
  List<R> drainRunning() {
    List<R> all = List.copyOf(running);
    running.clear();
    return all;
  }

  /**
   * The next forward pass: the running requests, each allowed {@code prefill-chunk} unprocessed
   * tokens, so that a long prompt is prefilled over several passes instead of stalling the decodes
   * batched with it, within {@code max-num-batched-tokens} in all (0: no limit), as vLLM's
   * scheduler budgets a step: every decode (one token each) is in the pass; requests that prefill
   * share what is left, in the order they were admitted, each a chunk (smaller when the budget is: at
   * least one token), and those past the budget wait for a later pass, a short prompt behind long
   * ones included. The first prefill is always in, so every prompt advances. Long prompts prefilled together each add their chunk to the pass, and so to
   * every stream's gap between tokens (a tester: a short stream's largest gap 1.2 s beside one
   * 30,000-token prompt, 5.5 s beside two, with no budget). Null when nothing runs.
   */
  Batch<R> schedule() {
    if (running.isEmpty()) return null;
    int budget = settings.maxNumBatchedTokens() == 0 ? Integer.MAX_VALUE : settings.maxNumBatchedTokens();
    int decodes = 0;
    for (R r : running) if (unprocessed(r) <= 1) decodes++;
    int chunk = Math.max(1, Math.min(settings.prefillChunk(), budget - decodes));
    List<R> runs = new ArrayList<>(running.size());
    List<Sequence> sequences = new ArrayList<>(running.size());
    int fed = decodes;
    int prefill = 0;
    boolean prefilling = false;
    for (R r : running) {
      int unprocessed = unprocessed(r);
      if (unprocessed > 1) {
        int feed = Math.min(unprocessed, chunk);
        if (prefilling && fed + feed > budget) continue;
        prefilling = true;
        fed += feed;
        prefill += feed - 1;
      }
      runs.add(r);
      sequences.add(r.view().sequence);
    }
    return new Batch<>(List.copyOf(runs), sequences, chunk, prefill);
  }

  private static int unprocessed(Running r) {
    Sequence s = r.view().sequence;
    return s.length() - s.processedLength();
  }

  /** Whether another forward pass is due: something runs or waits. */
  boolean hasWork() {
    return !running.isEmpty() || !preempted.isEmpty() || waiting.size() > 0 || !aheads.isEmpty();
  }

  /** The session's view, marking it used; null when this worker holds none. */
  SessionView view(String sessionId) {
    return views.get(sessionId);
  }

  /** {@link #longestPrefix(int[], String)} among the views of no tenant ({@code ""}). */
  Prefix longestPrefix(int[] ids) {
    return longestPrefix(ids, "");
  }

  /**
   * A cached prefix to start a new sequence from (automatic prefix caching, as vLLM's): the view
   * of {@code cacheScope} (its tenant and {@code cache_salt}: tenants share no cache, unlike vLLM's
   * default, where only a request's {@code cache_salt} keeps it apart) whose sequence shares the longest run of processed
   * tokens with the start of {@code ids}, and that run's length; null when no view shares one. The
   * view counts as used (LRU).
   */
  Prefix longestPrefix(int[] ids, String cacheScope) {
    SessionView best = null;
    Long bestRetired = null;
    int bestLength = 0;
    for (SessionView v : views.values()) {
      if (!v.cacheScope.equals(cacheScope)) continue;
      int n = sharedPrefix(v.sequence, ids);
      if (n > bestLength) {
        best = v;
        bestLength = n;
      }
    }
    for (Map.Entry<Long, SessionView> e : retired.entrySet()) {
      if (!e.getValue().cacheScope.equals(cacheScope)) continue;
      int n = sharedPrefix(e.getValue().sequence, ids);
      if (n > bestLength) {
        best = e.getValue();
        bestRetired = e.getKey();
        bestLength = n;
      }
    }
    if (best == null) return null;
    if (bestRetired != null) retired.get(bestRetired);
    else views.get(best.sessionId);
    return new Prefix(best, bestLength);
  }

  private static int sharedPrefix(Sequence s, int[] ids) {
    int limit = Math.min(ids.length, s.processedLength());
    int n = 0;
    while (n < limit && s.tokenAt(n) == ids[n]) n++;
    return n;
  }

  /** Whether {@code a}'s processed tokens begin with all of {@code b}'s. */
  private static boolean covers(Sequence a, Sequence b) {
    int n = b.processedLength();
    if (n > a.processedLength()) return false;
    for (int i = 0; i < n; i++) if (a.tokenAt(i) != b.tokenAt(i)) return false;
    return true;
  }

  /** {@code length} processed tokens of {@code view}'s sequence that a new sequence may start from. */
  record Prefix(SessionView view, int length) {}

  /** Keeps a new view of a session (its most recently used). */
  void keep(SessionView view) {
    views.put(view.sessionId, view);
  }

  /** Drops a session's view and frees its cache; nothing when none is held. */
  void forget(String sessionId) {
    SessionView v = views.remove(sessionId);
    if (v != null) v.close();
  }

  /**
   * The session is over: its view stops being the session's, and its cache stays as a prefix for
   * new sequences until the budget needs the room or {@code prefix-cache-sequences} newer ones
   * replace it. Kept prefixes of its scope that its tokens cover whole are freed: every match they offer, it
   * offers too (a session's next turn, or an engine's next takeover, forked from one; vLLM's prefix
   * cache likewise holds one copy of a shared block).
   */
  void retire(String sessionId) {
    SessionView v = views.remove(sessionId);
    if (v == null) return;
    for (var it = retired.values().iterator(); it.hasNext(); ) {
      SessionView kept = it.next();
      if (kept.cacheScope.equals(v.cacheScope) && covers(v.sequence, kept.sequence)) {
        kept.close();
        it.remove();
      }
    }
    retired.put(retiredCount++, v);
    for (var it = retired.values().iterator(); retired.size() > settings.prefixCacheSequences() && it.hasNext(); ) {
      it.next().close();
      it.remove();
    }
  }

  /**
   * Frees released sessions' caches kept as prefixes, least recently used first and never {@code
   * keep} (the prefix a new sequence is about to copy), while a new sequence would make the model
   * grow its caches' storage by a costly copy ({@link Caches#newSequenceCopiesCaches}): once that
   * storage is large, prefixes hold only the room live sessions leave, as vLLM's prefix cache keeps a
   * finished request's blocks only while they are free and gives the least recently used to a new
   * request that needs blocks ({@code BlockPool.get_new_blocks}). Without it, the demo's large
   * worker doubled its pool from 64 to 256 rows for 50 sessions' kept prefixes, 3.3 s of copying
   * in a 30 s evaluation.
   *
   * @return the number of caches freed
   */
  int yieldPrefixesToNewSequence(SessionView keep) {
    if (caches == null || retired.isEmpty() || !caches.newSequenceCopiesCaches()) return 0;
    int[] freed = new int[1];
    caches.releasing(() -> {
      for (Iterator<SessionView> it = retired.values().iterator(); it.hasNext() && caches.newSequenceCopiesCaches(); ) {
        SessionView v = it.next();
        if (v == keep) continue;
        v.close();
        it.remove();
        freed[0]++;
      }
    });
    return freed[0];
  }

  /** Frees the caches kept as prefixes ({@link #retire}); returns how many there were. */
  int resetPrefixCache() {
    int n = retired.size();
    for (SessionView v : retired.values()) v.close();
    retired.clear();
    return n;
  }

  /** Drops every view and frees their caches (the worker stops). */
  void forgetAll() {
    for (SessionView v : views.values()) v.close();
    for (SessionView v : retired.values()) v.close();
    views.clear();
    retired.clear();
  }

  /**
   * Frees the caches of least recently used sessions that are not running until what is left fits
   * {@code kv-cache-bytes}, then gives back the model's slack if it still holds more (a session whose
   * cache was dropped resyncs on its next request). What is left is counted as the model lays its
   * caches out at their smallest, the running ones after the next pass ({@link Caches#bytesFor}), so
   * that the slack of a pool that shrinks lazily costs no session its cache; without the model's
   * accounting, by the bytes the sequences report.
   *
   * <p>Before that, released sessions' caches are freed while the model's layout of its caches is
   * large and inflated ({@link #evictInflatingPrefixes}).
   *
   * @return the number of caches evicted (released sessions' first, then idle sessions')
   */
  int evictOverBudget() {
    if (caches == null) return evictOverBudgetNow();
    int[] evicted = new int[1];
    // Many caches may go at once (171 prefixes in a tester's run): the model shrinks its pool once, after them.
    caches.releasing(() -> evicted[0] = evictOverBudgetNow());
    return evicted[0];
  }

  private int evictOverBudgetNow() {
    int evicted = evictInflatingPrefixes();
    long budget = settings.kvCacheBytes();
    if (heldBytes() > budget) {
      // Released sessions' caches go first: no session will come back to them. What is left is
      // counted again after each: a model's caches may share memory.
      for (Iterator<SessionView> it = retired.values().iterator(); it.hasNext() && heldBytes() > budget; ) {
        SessionView v = it.next();
        v.close();
        it.remove();
        evicted++;
      }
      Set<SessionView> busy = busyViews();
      for (Iterator<SessionView> it = views.values().iterator(); it.hasNext() && heldBytes() > budget; ) {
        SessionView v = it.next();
        if (busy.contains(v)) continue; // a preempted request's view keeps its tokens for the recomputation
        v.close();
        it.remove();
        evicted++;
      }
    }
    if (caches != null && cacheBytes() > budget) caches.trim();
    return evicted;
  }

  /**
   * Frees caches of released sessions, least recently used first (as over the budget), while the
   * room they add to the model's layout of its caches (the layout with them, less the layout of the
   * live sessions' caches alone) is both large (more than 1/{@value #LARGE_LAYOUT} of {@code
   * kv-cache-bytes}) and more than {@value #MOST_INFLATION} times what they would hold each alone.
   * In a pool whose rows all have the longest cache's capacity (the in-process model's {@code
   * KvPool}), one long prompt gives every other row its length: kept as a prefix after its session
   * ended, each doubling of the rows for new sessions then copied all of it, and a tester's short
   * chats after one 20,000-token prompt on a 32k-context model took up to 11 s each while the pool
   * filled its 4 GiB budget; beside a live long prompt, hundreds of kept short prefixes each held its
   * length, and so they did beside a live long prompt and 40 live chats, whose layout alone was
   * already a quarter of the budget. vLLM's paged cache charges a kept prefix its own blocks only;
   * here prefixes are kept while the room they cost stays small beside the budget. Where live caches
   * alone lay the pool out as large, the prefixes add nothing and stay.
   *
   * @return the number of caches freed
   */
  private int evictInflatingPrefixes() {
    if (caches == null || retired.isEmpty()) return 0;
    long layout = caches.bytesFor(heldLengths(true));
    if (layout <= settings.kvCacheBytes() / LARGE_LAYOUT) return 0; // nearly every pass: the whole layout is small, and what the prefixes add no larger
    long live = caches.bytesFor(heldLengths(false));
    int evicted = 0;
    for (Iterator<SessionView> it = retired.values().iterator(); it.hasNext() && prefixesInflate(layout - live); evicted++) {
      it.next().close();
      it.remove();
      layout = caches.bytesFor(heldLengths(true));
    }
    return evicted;
  }

  /** Whether {@code added} bytes of layout for the released caches is too much ({@link #evictInflatingPrefixes}). */
  private boolean prefixesInflate(long added) {
    if (added <= settings.kvCacheBytes() / LARGE_LAYOUT) return false;
    long alone = 0;
    for (SessionView v : retired.values())
      if (v.sequence.processedLength() > 0) alone += caches.bytesFor(new int[] {v.sequence.processedLength()});
    return added > MOST_INFLATION * alone;
  }

  /** See {@link #evictInflatingPrefixes}. */
  private static final int MOST_INFLATION = 4;

  /** See {@link #evictInflatingPrefixes}. */
  private static final long LARGE_LAYOUT = 8;

  /** What the caches alive need: the model's smallest layout of them, else the bytes the sequences report. */
  private long heldBytes() {
    return caches == null ? cacheBytes() : caches.bytesFor(heldLengths(true));
  }

  /**
   * The tokens each cache alive holds: released ({@code withReleased}) and idle sessions' as they
   * are, running ones' after the next pass.
   */
  private int[] heldLengths(boolean withReleased) {
    Set<SessionView> busy = busyViews();
    int[] lengths = new int[retired.size() + views.size() + running.size()];
    int n = 0;
    if (withReleased)
      for (SessionView v : retired.values()) if (v.sequence.processedLength() > 0) lengths[n++] = v.sequence.processedLength();
    for (SessionView v : views.values())
      if (!busy.contains(v) && v.sequence.processedLength() > 0) lengths[n++] = v.sequence.processedLength();
    for (int next : nextLengths(running, null)) lengths[n++] = next;
    return Arrays.copyOf(lengths, n);
  }

  /** The views of the requests running or preempted, by identity. */
  private Set<SessionView> busyViews() {
    Set<SessionView> busy = Collections.newSetFromMap(new IdentityHashMap<>());
    for (R r : running) busy.add(r.view());
    for (R r : preempted) busy.add(r.view());
    return busy;
  }

  /** Bytes of cache held by every session's view. */
  long cacheBytes() {
    long total = cacheBytesInUse();
    for (SessionView v : retired.values()) total += v.bytes();
    return total;
  }

  /** Bytes of cache held by the sessions in flight: {@link #cacheBytes} without the released ones kept as prefixes. */
  long cacheBytesInUse() {
    long total = 0;
    for (SessionView v : views.values()) total += v.bytes();
    return total;
  }

  /** Requests waiting: queued, preempted or admitted without room (vLLM counts both as waiting). */
  int waiting() {
    return waiting.size() + preempted.size();
  }

  /** Requests out of the running batch for want of cache room. */
  int preempted() {
    return preempted.size();
  }

  int running() {
    return running.size();
  }

  int sessions() {
    return views.size();
  }
}
