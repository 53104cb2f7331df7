package io.tandem.protocol.worker;

import akka.actor.typed.ActorRef;
import io.tandem.protocol.CborSerializable;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.Role;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import java.util.List;

/**
 * The messages between sessions and model workers: the delta/position sync protocol
 * (docs/ARCHITECTURE.md, "The sync protocol").
 *
 * <p>A request says "session S, your view should be position P (session tokens after the prompt,
 * or -1 for nothing at all, in which case the prompt comes along), append these chunks, then
 * generate under these limits". A worker holding more than P truncates (rolling back a discarded
 * look-ahead); one holding less answers {@link Resync} with what it has, and the session re-sends
 * from there. So a request carries only what the worker has not seen, and a worker that lost a
 * session's cache (eviction, restart, another node) costs one round trip, never a wrong answer.
 *
 * <p>Positions count session tokens: the output after the prompt, in the vocabulary of whoever
 * wrote them. The worker's half of the protocol is {@code io.tandem.worker.SessionView}
 * (worker-common); the session's half, which keeps what each worker has acknowledged and encodes
 * the next delta, is in {@code io.tandem.orchestrator.session}.
 */
public final class WorkerProtocol {

  /** Everything a worker can be told. */
  public interface Command extends CborSerializable {}

  /** Everything a worker answers to a session about one request. */
  public interface Reply extends CborSerializable {
    /** The {@link Generate#requestId()} this answers. */
    long requestId();
  }

  /**
   * The limits of one generation step.
   *
   * @param inject text the worker appends (tokenized in its own vocabulary) before generating, e.g.
   *     the paper's {@code help_recap_words}; null or empty for none
   * @param maxNewTokens the most tokens to generate, >= 0
   * @param maxTotalTokens the most tokens this step may add in all: the injected tokens count
   *     against it first (an injection longer than it is cut), and generation gets what is left,
   *     at most {@code maxNewTokens}; >= 0. The worker relies on this to keep a step inside the
   *     request's {@code max_tokens}.
   * @param stopAtTrigger stop after the first generated token whose text completes one of {@code
   *     triggers} (text level, as {@link io.tandem.protocol.text.StopStrings} matches)
   * @param triggers the trigger strings, non-empty each; empty when not stopping at one
   * @param prefillAhead a prefill ahead of a later step: sync the view and compute its KV cache up to,
   *     not including, its last token, generating nothing ({@link #PREFILL_AHEAD}); the session sends
   *     it to the large worker while the small model writes, so that a takeover finds the text before
   *     it prefilled. A worker without a cache of its own (scripted models, a remote engine) only
   *     syncs the view.
   * @throws IllegalArgumentException when a count is negative
   */
  public record Limits(
      String inject, int maxNewTokens, int maxTotalTokens, boolean stopAtTrigger, List<String> triggers,
      boolean prefillAhead)
      implements CborSerializable {
    /** A prefill ahead: nothing injected, nothing generated. */
    public static final Limits PREFILL_AHEAD = new Limits(null, 0, 0, false, List.of(), true);

    public Limits {
      if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens < 0: " + maxNewTokens);
      if (maxTotalTokens < 0) throw new IllegalArgumentException("maxTotalTokens < 0: " + maxTotalTokens);
      triggers = triggers == null ? List.of() : List.copyOf(triggers);
      if (prefillAhead && (maxNewTokens > 0 || (inject != null && !inject.isEmpty())))
        throw new IllegalArgumentException("a prefill ahead generates and injects nothing");
    }

    /** The limits of a step that generates. */
    public Limits(String inject, int maxNewTokens, int maxTotalTokens, boolean stopAtTrigger, List<String> triggers) {
      this(inject, maxNewTokens, maxTotalTokens, stopAtTrigger, triggers, false);
    }
  }

  /**
   * Sync the session's view, then generate; partial tokens stream back when {@code stream}.
   *
   * @param sessionId the session whose view to sync; at most one request per session is live on a
   *     worker (a new one replaces any earlier)
   * @param tenant who pays for it (the large worker's fairness key); null counts as {@code ""}
   * @param requestId echoed in every reply, so a session can ignore late replies
   * @param basePosition the session position the view must be at before {@code append}, or -1 to
   *     start over from {@code prompt}
   * @param prompt the chat messages or raw text, rendered by each worker with its own template;
   *     required when {@code basePosition} is -1, ignored otherwise
   * @param append session tokens after {@code basePosition}, in chunks by vocabulary
   * @param limits what to generate
   * @param sampling how to sample (the sequence keeps the parameters of its first request)
   * @param stream whether to send {@link Partial}s as tokens come
   * @param replyTo where every {@link Reply} goes: the session's own actor (or an adapter of it),
   *     which the worker watches; when it terminates, or its node is removed from the cluster, the
   *     session counts as released ({@link Release})
   * @param cacheSalt the request's {@code cache_salt} (vLLM's): its cache is shared as a prefix only
   *     with sessions of the same tenant and salt; null: with the tenant's sessions without one
   * @throws IllegalArgumentException when {@code basePosition < -1}, or -1 without a prompt
   */
  public record Generate(
      String sessionId,
      String tenant,
      long requestId,
      int basePosition,
      Prompt prompt,
      List<Chunk> append,
      Limits limits,
      SamplingParams sampling,
      boolean stream,
      ActorRef<Reply> replyTo,
      String cacheSalt)
      implements Command {
    public Generate {
      append = append == null ? List.of() : List.copyOf(append);
      if (basePosition < -1) throw new IllegalArgumentException("basePosition < -1");
      if (basePosition == -1 && prompt == null)
        throw new IllegalArgumentException("a request from position -1 must carry the prompt");
    }

    /** A request without a {@code cache_salt}. */
    public Generate(String sessionId, String tenant, long requestId, int basePosition, Prompt prompt, List<Chunk> append,
        Limits limits, SamplingParams sampling, boolean stream, ActorRef<Reply> replyTo) {
      this(sessionId, tenant, requestId, basePosition, prompt, append, limits, sampling, stream, replyTo, null);
    }

    /**
     * Who may share this request's cache as a prefix: its tenant, and its {@code cache_salt} where it
     * gave one, as one string ({@code ""}: no tenant and no salt).
     */
    public String cacheScope() {
      String t = tenant == null ? "" : tenant;
      return cacheSalt == null ? t : t + '\u0000' + cacheSalt;
    }
  }

  /** Stop working on a request (its session timed out or its client went away). */
  public record Cancel(String sessionId, long requestId) implements Command {}

  /**
   * The session is over: free its cache (kept as a prefix for new requests until the room is
   * needed). A worker does the same when the session's {@link Generate#replyTo()} terminates, so a
   * session that ends without one leaves nothing behind. It also drops the session's request in
   * flight, if any: a session that gave up on the worker (lost it) sends one to free what the
   * worker holds should it come back. For a session the worker does not hold it does nothing.
   */
  public record Release(String sessionId) implements Command {}

  /**
   * Does the worker still hold request {@code requestId} of the session (waiting, running, or being
   * tokenized)? Answered with a {@link StepStatus} to {@code replyTo}, the request's own {@link
   * Generate#replyTo()}, after every reply sent to it before: a session whose step has been silent
   * asks, and a "no" while it still waits means the request's answer, or the request, was lost
   * between nodes (Akka's Artery drops messages once its send queue to a node is full, as it fills
   * while that node is paused or its link stalls). A worker that finished the request sends its
   * {@link Done} again first (it keeps each session's last until the session is released), so the
   * step's output is the one it wrote; one that never had the request says so, and the session
   * sends the step again.
   */
  public record GetStepStatus(String sessionId, long requestId, ActorRef<Reply> replyTo) implements Command {}

  /** Stop the worker now; sessions with requests on it see it terminate and move elsewhere. */
  public enum Stop implements Command {
    INSTANCE
  }

  /** Ask for the worker's current figures. */
  public record GetStats(ActorRef<WorkerStats> replyTo) implements Command {}

  /**
   * Free the caches kept as prefixes for new requests (released sessions' sequences; running ones
   * keep theirs), as vLLM's {@code /reset_prefix_cache}: a benchmark resets them between runs so
   * that one run's prompts and answers do not shorten the next one's prefills.
   */
  public record ResetPrefixCache(ActorRef<PrefixCacheReset> replyTo) implements Command {}

  /** A {@link ResetPrefixCache} done: {@code sequences} cached prefixes were freed. */
  public record PrefixCacheReset(int sequences) implements CborSerializable {}

  /**
   * Count a prompt's tokens as this worker's model reads it, before any session starts (the HTTP
   * layer checks prompt plus {@code max_tokens} against the context as vLLM's server does). Exactly
   * one of {@code prompt} (text or chat, rendered with the model's template) and {@code tokenIds}
   * (a prompt already tokenized, decoded here to its text) is given.
   *
   * @param tokenIdsField with {@code tokenIds}, the request field the client sent them in ({@code
   *     prompt} or {@code prompt[0]} of {@code /v1/completions}, {@code tokens} of {@code /detokenize}), which a problem
   *     with one of them names ({@code tokens[2] is token id ...}); null with {@code prompt}
   * @param timeoutMillis how long the asker waits for the answer, in milliseconds ({@code
   *     tandem.http.count-timeout}); a worker drops a count it has not begun within that long of
   *     receiving it, since nobody reads its answer (measured on the worker: clocks of two nodes
   *     differ, and it errs on the side of counting); 0 for no limit
   */
  public record CountTokens(Prompt prompt, List<Integer> tokenIds, String tokenIdsField, ActorRef<TokenCount> replyTo,
      long timeoutMillis) implements Command {
    public CountTokens {
      if (timeoutMillis < 0) throw new IllegalArgumentException("timeoutMillis must be 0 (no limit) or more, got " + timeoutMillis);
      if ((prompt == null) == (tokenIds == null))
        throw new IllegalArgumentException("count either a prompt or token ids, exactly one");
      if ((tokenIds == null) != (tokenIdsField == null))
        throw new IllegalArgumentException("tokenIdsField names the field of token ids: give it with token ids, and only then");
      if (tokenIds != null) tokenIds = List.copyOf(tokenIds);
    }

    /**
     * What this count has in common with the same count asked again: all but its timeout (an asker
     * on another node that heard nothing asks again on the same reply path with what is left of its
     * time), so that a worker still counting it does not count it twice. Two counts of other prompts
     * answered to one reply path (a test's probe) are two.
     */
    public Asked asked() {
      return new Asked(prompt, tokenIds, tokenIdsField, replyTo);
    }

    /** See {@link #asked}. */
    public record Asked(Prompt prompt, List<Integer> tokenIds, String tokenIdsField, ActorRef<TokenCount> replyTo) {}

    /**
     * How much a count of {@code prompt} or {@code tokenIds} reads (exactly one of them non-null, as
     * a {@code CountTokens} takes them): token ids, or characters of text, a chat's messages with the
     * variables its template renders them with ({@code tools}, {@code chat_template_kwargs}), which
     * can be as long. One rule for both ends: a worker orders its waiting counts by it, shortest first,
     * and the asker lets a long prompt's count take longer than {@code tandem.http.count-timeout} by it.
     */
    public static long sizeOf(Prompt prompt, List<Integer> tokenIds) {
      if (tokenIds != null) return tokenIds.size();
      if (prompt.tokenIds() != null) return prompt.tokenIds().size();
      long n = prompt.raw() == null ? 0 : prompt.raw().length();
      if (prompt.messages() != null) for (var m : prompt.messages()) n += m.content() == null ? 0 : m.content().length();
      if (prompt.chatTemplate() != null) n += prompt.chatTemplate().variablesJson().length();
      return n;
    }
  }

  /**
   * The asker of the count answered to {@code replyTo} no longer wants it (its client left): a
   * worker drops that count if it has not begun it, so that counts nobody reads do not hold live
   * clients' counts behind them on its one-at-a-time long-prompt queue; a count begun runs to its
   * end. Nothing is answered: the asker has stopped listening.
   */
  public record CancelCount(ActorRef<TokenCount> replyTo) implements Command {}

  /**
   * The answer to {@link CountTokens}: {@code tokens} in the prompt; for token ids, their {@code
   * text} and the {@code tokenizerKey} of their vocabulary (null for a text prompt); the model's
   * {@code contextLength} and {@code vocabSize} (the token ids it knows are 0 to {@code vocabSize -
   * 1}; 0 for a model without a fixed vocabulary), which the HTTP layer checks a request's other
   * token ids against; {@code problem}, non-null when the prompt cannot be used (a token id outside
   * the vocabulary), saying why; and, for a text or chat prompt, its {@code tokenIds} as the model
   * reads it (what a server's {@code /tokenize} answers), else null; {@code lost}, non-null when the
   * worker could not count it for a failure of its own (an engine worker that lost its engine while
   * asking the engine's tokenizer: it stops), saying what it lost: no fault of the prompt, and the
   * asker need not wait out its count timeout for an answer that will not come.
   */
  public record TokenCount(int tokens, String text, String tokenizerKey, int contextLength, int vocabSize, String problem,
      List<Integer> tokenIds, String lost) implements CborSerializable {

    /** A count, or a problem with the prompt ({@code lost} null). */
    public TokenCount(int tokens, String text, String tokenizerKey, int contextLength, int vocabSize, String problem,
        List<Integer> tokenIds) {
      this(tokens, text, tokenizerKey, contextLength, vocabSize, problem, tokenIds, null);
    }

    /** No count: the worker stopped for {@code why} (see {@code lost}). */
    public static TokenCount workerLost(String why) {
      return new TokenCount(0, null, null, 0, 0, null, null, why);
    }
  }

  /**
   * Asked of each orchestrator node's sessions (registered under {@link
   * io.tandem.protocol.ServiceKeys#SESSIONS}) by a stopping {@code worker} that is the last of its
   * {@code role} in the cluster: how many sessions in flight there may still need a worker of the
   * role (a speculative session needs both roles, a {@code small} or {@code large} one only its
   * own), bound to it or not yet, and whether that node's sessions are still offered the worker
   * (after it withdrew, until the Receptionist's news reaches the node). Answered with {@link
   * SessionsInFlight}.
   */
  public record CountSessions(Role role, ActorRef<Command> worker, ActorRef<SessionsInFlight> replyTo)
      implements CborSerializable {}

  /**
   * The answer to {@link CountSessions}: {@code count} sessions in flight on that node may need the
   * role; {@code offered}: its sessions may still be given the asking worker.
   */
  public record SessionsInFlight(int count, boolean offered) implements CborSerializable {}

  /**
   * Tokens as they are generated (only for requests with {@code stream}), in the vocabulary named
   * {@code tokenizerKey} (so that a session can hand them on if this worker is lost mid-step). A
   * step's first carries {@code promptTokens} and {@code cachedTokens} as its {@link Done} will
   * where the worker knows them by then (0 and -1 on the others), so that a session a stop string
   * ends before that {@code Done} still knows what of its prompt came from a prefix cache.
   * {@code offset}: the tokens of the request (injected, then generated) its earlier partials
   * carried; a session that received fewer knows one was lost between nodes (see {@link
   * GetStepStatus}), streams no more of the request and takes its output from the {@link Done}.
   */
  public record Partial(long requestId, int offset, List<Token> injected, List<Token> generated, String tokenizerKey,
      int promptTokens, int cachedTokens) implements Reply {
    /** A partial that is not a step's first, or says nothing of the prompt. */
    public Partial(long requestId, int offset, List<Token> injected, List<Token> generated, String tokenizerKey) {
      this(requestId, offset, injected, generated, tokenizerKey, 0, -1);
    }
  }

  /**
   * The request is done: the tokens of the injected text (as this worker tokenized it) and the
   * generated ones; {@code eos} when the last generated token ends the sequence.
   *
   * @param tokenizerKey the vocabulary of the tokens ({@code TextTokenizer.key()})
   * @param promptTokens the rendered prompt's length when the request started over (position -1), else 0
   * @param prefillTokens tokens the worker had not processed when the request joined the batch
   * @param queueNanos time from arrival to done not spent in forward passes, in nanoseconds
   * @param computeNanos time of the forward passes the request was part of, in nanoseconds
   * @param cachedTokens of {@code promptTokens}, those read from the worker's prefix cache (an
   *     engine's, as the engine reports them), -1 when not known (an engine that does not say)
   */
  public record Done(
      long requestId,
      String tokenizerKey,
      List<Token> injected,
      List<Token> generated,
      boolean eos,
      int promptTokens,
      int prefillTokens,
      long queueNanos,
      long computeNanos,
      int cachedTokens)
      implements Reply {}

  /**
   * The answer to {@link GetStepStatus}: whether the worker holds the request ({@code held}), or
   * finished it and has just sent its {@link Done} again ({@code answered}). Sent after every reply
   * to the request it sent before, so neither, for a request the session still waits for, means the
   * request never arrived or its last reply is not one the worker keeps.
   */
  public record StepStatus(long requestId, boolean held, boolean answered) implements Reply {}

  /** The worker does not hold position P; it holds {@code havePosition} (-1: nothing). */
  public record Resync(long requestId, int havePosition) implements Reply {}

  /**
   * The worker cannot take the request now (queue full, draining); {@code code} says why and
   * whether another worker, or the same one later, may take it.
   */
  public record Rejected(long requestId, FailureCode code, String reason) implements Reply {
    /** Whether another worker, or this one later, may take the request ({@link FailureCode#retryable()}). */
    public boolean retryable() {
      return code.retryable();
    }
  }

  /** The request failed inside the worker: {@code code} is what the session acts on, the message says why. */
  public record Failed(long requestId, FailureCode code, String message) implements Reply {}

  /**
   * A worker's figures at one moment. {@code unseenTokens}: tokens that finished requests brought
   * and the worker had not processed yet; over {@code requestsDone} it is the prefill per request,
   * the figure that shows incremental sync works. {@code prefixCacheHits}: new sequences that
   * started from the cache of another's prefix (automatic prefix caching, vLLM's), reusing {@code
   * prefixCacheTokens} tokens in all. {@code preemptions}: running sequences taken out of the batch,
   * their caches dropped, because the batch's caches would have passed {@code kv-cache-bytes}
   * (vLLM's {@code num_preemptions}); each is recomputed when it resumes. For a worker in front of a remote engine, a step is one
   * request to it, and its times are the engine's plus the hop; its steps overlap, so its busy time can pass its
   * uptime; and its cache lives in the engine, so its {@code cacheBytes} is {@link #CACHE_BYTES_UNKNOWN}.
   * {@code cacheBytesInUse}: the part of {@code cacheBytes} that sessions in flight hold (not the
   * caches finished sessions left as prefixes, which are evicted when room is needed);
   * {@code cacheCapacityBytes}: the worker's {@code kv-cache-bytes} budget; both {@link
   * #CACHE_BYTES_UNKNOWN} for a worker in front of a remote engine.
   */
  public record WorkerStats(
      String worker,
      String role,
      String model,
      int contextLength,
      int queueLength,
      int running,
      long steps,
      long batchedSequenceSteps,
      long prefillTokens,
      long decodeTokens,
      long prefillNanos,
      long decodeNanos,
      long cacheHits,
      long cacheMisses,
      long cacheEvictions,
      long cacheBytes,
      int sessionsCached,
      long requests,
      long rejected,
      long unseenTokens,
      long requestsDone,
      long busyNanos,
      long upNanos,
      long prefixCacheHits,
      long prefixCacheTokens,
      long preemptions,
      boolean draining,
      long cacheBytesInUse,
      long cacheCapacityBytes)
      implements CborSerializable {

    /** The {@code cacheBytes} of a worker that cannot tell: its KV cache is a remote engine's. */
    public static final long CACHE_BYTES_UNKNOWN = -1;

    /** Figures of a worker that does not say how much of its cache is in use, nor its budget. */
    public WorkerStats(String worker, String role, String model, int contextLength, int queueLength, int running,
        long steps, long batchedSequenceSteps, long prefillTokens, long decodeTokens, long prefillNanos,
        long decodeNanos, long cacheHits, long cacheMisses, long cacheEvictions, long cacheBytes, int sessionsCached,
        long requests, long rejected, long unseenTokens, long requestsDone, long busyNanos, long upNanos,
        long prefixCacheHits, long prefixCacheTokens, long preemptions, boolean draining) {
      this(worker, role, model, contextLength, queueLength, running, steps, batchedSequenceSteps, prefillTokens,
          decodeTokens, prefillNanos, decodeNanos, cacheHits, cacheMisses, cacheEvictions, cacheBytes, sessionsCached,
          requests, rejected, unseenTokens, requestsDone, busyNanos, upNanos, prefixCacheHits, prefixCacheTokens,
          preemptions, draining, CACHE_BYTES_UNKNOWN, CACHE_BYTES_UNKNOWN);
    }

    /** Figures of a worker that is not draining. */
    public WorkerStats(String worker, String role, String model, int contextLength, int queueLength, int running,
        long steps, long batchedSequenceSteps, long prefillTokens, long decodeTokens, long prefillNanos,
        long decodeNanos, long cacheHits, long cacheMisses, long cacheEvictions, long cacheBytes, int sessionsCached,
        long requests, long rejected, long unseenTokens, long requestsDone, long busyNanos, long upNanos,
        long prefixCacheHits, long prefixCacheTokens, long preemptions) {
      this(worker, role, model, contextLength, queueLength, running, steps, batchedSequenceSteps, prefillTokens,
          decodeTokens, prefillNanos, decodeNanos, cacheHits, cacheMisses, cacheEvictions, cacheBytes, sessionsCached,
          requests, rejected, unseenTokens, requestsDone, busyNanos, upNanos, prefixCacheHits, prefixCacheTokens,
          preemptions, false);
    }

    /** Figures of a worker without automatic prefix caching or preemption. */
    public WorkerStats(String worker, String role, String model, int contextLength, int queueLength, int running,
        long steps, long batchedSequenceSteps, long prefillTokens, long decodeTokens, long prefillNanos,
        long decodeNanos, long cacheHits, long cacheMisses, long cacheEvictions, long cacheBytes, int sessionsCached,
        long requests, long rejected, long unseenTokens, long requestsDone, long busyNanos, long upNanos) {
      this(worker, role, model, contextLength, queueLength, running, steps, batchedSequenceSteps, prefillTokens,
          decodeTokens, prefillNanos, decodeNanos, cacheHits, cacheMisses, cacheEvictions, cacheBytes, sessionsCached,
          requests, rejected, unseenTokens, requestsDone, busyNanos, upNanos, 0, 0, 0, false);
    }
  }

  private WorkerProtocol() {}
}
