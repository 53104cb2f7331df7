package io.tandem.worker;

import io.tandem.inference.Sequence;
import io.tandem.inference.text.IncrementalDecoder;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Token;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Failed;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Resync;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;

/**
 * Admission of one request on any worker, in-process or in front of an engine: syncs the session's
 * view to the request's base position (a new view from the prompt, a rollback, or a {@link Resync}
 * when the worker holds less), appends the request's chunks and injected text, and works out how
 * many tokens it may generate within its {@link WorkerProtocol.Limits} and the model's context.
 * The worker half of the sync protocol (docs/ARCHITECTURE.md, "The sync protocol").
 */
final class StepSync {

  /**
   * A request synced and ready to generate.
   *
   * @param view the session's view, holding the prompt, the appended chunks and the injected tokens
   * @param promptTokens the rendered prompt's length when the request started over, else 0
   * @param injected the injected text as this model's tokens (already in the view)
   * @param detok decodes the tokens generated next, in the context of the view's last tokens
   * @param limit the most tokens to generate, >= 0
   */
  record Ready(SessionView view, int promptTokens, List<Token> injected, IncrementalDecoder detok, int limit) {}

  /**
   * Why a prompt of no tokens is refused: an empty text, or messages the model's chat template
   * renders as nothing, with a tokenizer that adds no special tokens.
   */
  static final String EMPTY_PROMPT = "the prompt is no tokens: the text is empty, or the model's chat template renders the"
      + " messages as nothing (a template that only joins their contents, and a tokenizer that adds no special tokens); give"
      + " it text to start from";

  /** How many of the view's last tokens give a new token's text its context (spacing, split characters). */
  private static final int DECODE_CONTEXT = 6;

  /**
   * Queues {@code g} for admission, or answers {@link WorkerProtocol.Rejected} when the queue is
   * full ({@link FailureCode#QUEUE_FULL}, or {@link FailureCode#TENANT_QUEUE_FULL} when it holds
   * the tenant's share), or for a prefill ahead when the running batch has no room to spare
   * ({@link FailureCode#QUEUE_FULL}, {@link Scheduler#enqueue}); {@code worker} names the worker in the reason,
   * {@code keys} the prefix of its role's settings ({@code tandem.large.}), of which the reason names
   * the limit met ({@link AdmissionQueue#whyFull}).
   *
   * @return whether the request was queued
   */
  static boolean enqueue(Generate g, Scheduler<?> scheduler, WorkerMetrics metrics, String worker, String keys) {
    return enqueue(g, System.nanoTime(), scheduler, metrics, worker, keys);
  }

  /** {@link #enqueue} for a request that arrived at {@code arrivedNanos} ({@link System#nanoTime}), before it could queue. */
  static boolean enqueue(Generate g, long arrivedNanos, Scheduler<?> scheduler, WorkerMetrics metrics, String worker,
      String keys) {
    metrics.requests++;
    PendingRequest pending = new PendingRequest(g, arrivedNanos);
    if (scheduler.enqueue(pending)) return true;
    // A prefill ahead refused costs its session nothing (the takeover prefills instead): not a rejection to alert on.
    if (!g.limits().prefillAhead()) metrics.rejected++;
    if (g.limits().prefillAhead()) {
      g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.QUEUE_FULL, worker
          + " has no room in its running batch to prefill ahead (" + scheduler.running() + " running, "
          + scheduler.waiting() + " waiting); the takeover prefills instead"));
    } else {
      AdmissionQueue.Full full = scheduler.whyFull(pending, keys);
      g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), full.code(), worker + " " + full.reason()));
    }
    return false;
  }

  /**
   * Syncs {@code g}'s session on a worker serving {@code model}; answers the request itself (a
   * {@link Resync}, or a {@link Failed} when the prompt or the session outgrows the context or
   * the request cannot be taken) and returns null when it cannot run.
   */
  static Ready sync(Generate g, Scheduler<?> scheduler, ServedModel model, WorkerMetrics metrics, Logger log) {
    SessionView view = scheduler.view(g.sessionId());
    // Cache hits and misses count the steps that generate: a prefill ahead is a query of its own
    // that its step, coming after it, would double (and it mostly hits, flattering the ratio).
    boolean counted = !g.limits().prefillAhead();
    int promptTokens = 0;
    try {
      if (g.basePosition() == -1) {
        if (view != null) scheduler.forget(g.sessionId());
        int[] promptIds = model.render(g.prompt());
        // Nothing to run a forward pass on: refused as vLLM refuses it ("The decoder prompt cannot be empty").
        if (promptIds.length == 0) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.INVALID_REQUEST, EMPTY_PROMPT));
          return null;
        }
        if (promptIds.length >= model.contextLength()) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.CONTEXT_LENGTH_EXCEEDED, "the prompt has "
              + promptIds.length + " tokens, and " + model.name() + "'s context is " + model.contextLength()
              + " tokens: a prompt may have at most " + (model.contextLength() - 1) + ", for room to generate"));
          return null;
        }
        view = new SessionView(g.sessionId(), cacheScope(g), startSequence(promptIds, g, scheduler, model, metrics), promptIds);
        scheduler.keep(view);
        promptTokens = promptIds.length;
        if (counted) metrics.cacheMisses++;
      } else if (view == null) {
        if (counted) metrics.cacheMisses++;
        g.replyTo().tell(new Resync(g.requestId(), -1));
        return null;
      } else {
        int have = view.truncateTo(g.basePosition());
        if (have < g.basePosition()) {
          if (counted) metrics.cacheMisses++;
          g.replyTo().tell(new Resync(g.requestId(), have));
          return null;
        }
        if (counted) metrics.cacheHits++;
      }
      for (Chunk c : g.append()) view.append(c, model.tokenizer());

      WorkerProtocol.Limits limits = g.limits();
      // The output's last ids may be a character's first bytes, held back by the step before (this
      // worker's or the other's): they come out with this step's first token that completes it.
      int[] context = tail(view.sequence, DECODE_CONTEXT + IncrementalDecoder.MAX_HELD);
      IncrementalDecoder detok = new IncrementalDecoder(model.tokenizer(), context,
          Math.min(context.length, view.sequence.length() - view.promptLength()));
      List<Token> injected = List.of();
      if (limits.inject() != null && !limits.inject().isEmpty()) {
        injected = model.injection(limits.inject(), limits.maxTotalTokens(), detok);
        view.appendOwn(injected.stream().mapToInt(Token::id).toArray());
      }
      int limit = Math.max(0, Math.min(limits.maxNewTokens(), limits.maxTotalTokens() - injected.size()));
      int room = model.contextLength() - view.sequence.length();
      if (limit > room) {
        if (room <= 0) {
          g.replyTo().tell(new Failed(g.requestId(), FailureCode.CONTEXT_LENGTH_EXCEEDED, "the session reached "
              + model.name() + "'s context length of " + model.contextLength() + " tokens"));
          return null;
        }
        limit = room;
      }
      return new Ready(view, promptTokens, injected, detok, limit);
    } catch (RuntimeException e) {
      // A request the model cannot take as it is (no chat template, ...) is the asker's to fix: its
      // message says what to do; anything else is ours, with its stack trace.
      // The asker's (a 400 with the message); the worker's start line warned of a missing template once.
      if (e instanceof IllegalArgumentException) {
        log.debug("worker could not admit request {} of session {}: {}", g.requestId(), g.sessionId(), e.getMessage());
        scheduler.forget(g.sessionId());
        g.replyTo().tell(new Failed(g.requestId(), FailureCode.INVALID_REQUEST, e.getMessage()));
        return null;
      }
      log.warn("worker could not admit request {} of session {}", g.requestId(), g.sessionId(), e);
      scheduler.forget(g.sessionId());
      g.replyTo().tell(new Failed(g.requestId(), FailureCode.INTERNAL, "worker could not take the request: " + e.getMessage()));
      return null;
    }
  }

  /**
   * Counts a prompt's tokens as {@code model} reads it ({@link WorkerProtocol.CountTokens}): a
   * prompt rendered, or token ids checked against the vocabulary and decoded (special tokens as their
   * text); a prompt that cannot
   * be read gets its problem in the answer.
   */
  static WorkerProtocol.TokenCount count(WorkerProtocol.CountTokens c, ServedModel model) {
    int context = model.contextLength();
    int vocab = model.vocabSize();
    try {
      if (c.prompt() != null) {
        int[] ids = model.render(c.prompt());
        return new WorkerProtocol.TokenCount(ids.length, null, null, context, vocab, null, Arrays.stream(ids).boxed().toList());
      }
      int[] ids = c.tokenIds().stream().mapToInt(Integer::intValue).toArray();
      for (int i = 0; i < ids.length; i++)
        if (ids[i] < 0 || (vocab > 0 && ids[i] >= vocab))
          return new WorkerProtocol.TokenCount(0, null, null, context, vocab, c.tokenIdsField() + "[" + i + "] is token id " + ids[i]
              + ", outside " + model.name() + "'s vocabulary" + (vocab > 0 ? " of " + vocab + " tokens (ids 0 to " + (vocab - 1) + ")"
              : ": ids are 0 or more"), null);
      // A prompt longer than the context is refused on its length: its text is not needed (and may be long).
      boolean refused = c.tokenIdsField().startsWith("prompt") && context > 0 && ids.length >= context;
      // Special tokens keep their text, as vLLM's /detokenize writes them (the tokenizer's decode
      // with its default, skip_special_tokens=False), and another vocabulary's tokenizer reads them back.
      return new WorkerProtocol.TokenCount(ids.length, refused ? null : model.tokenizer().decode(ids, false), model.tokenizer().key(),
          context, vocab, null, null);
    } catch (RuntimeException e) {
      return new WorkerProtocol.TokenCount(0, null, null, context, vocab, model.name() + " cannot read the prompt: " + e.getMessage(), null);
    }
  }

  /** What a count's answer may hold besides the text of token ids, within one frame: its other fields, generously. */
  private static final int FRAME_MARGIN = 64 * 1024;

  /**
   * {@code count} as it may cross nodes in one Artery frame of {@code frameBytes}: as it is, or, when
   * the text of its token ids is too long for one (token ids of long tokens: Qwen's 128 spaces), a
   * problem saying so, which the asker answers with a 400 rather than waiting for a message Akka
   * drops.
   */
  static WorkerProtocol.TokenCount withinFrame(WorkerProtocol.TokenCount count, long frameBytes) {
    if (count.text() == null || (long) count.text().length() * 3 <= frameBytes - FRAME_MARGIN) return count;
    long bytes = count.text().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    if (bytes <= frameBytes - FRAME_MARGIN) return count;
    return new WorkerProtocol.TokenCount(0, null, null, count.contextLength(), count.vocabSize(), "the text of these "
        + count.tokens() + " token ids is " + bytes + " bytes, more than one message between the cluster's nodes carries ("
        + (frameBytes - FRAME_MARGIN) + " bytes, after akka.remote.artery.advanced.maximum-frame-size); send fewer token ids",
        null);
  }

  /**
   * A sequence for a new session's prompt: forked from the cached sequence sharing its longest
   * prefix (all but the prompt's last token at most, whose logits the first forward pass needs
   * anyway), or a new one.
   */
  private static Sequence startSequence(int[] promptIds, Generate g, Scheduler<?> scheduler, ServedModel model,
      WorkerMetrics metrics) {
    Scheduler.Prefix prefix = scheduler.longestPrefix(promptIds, cacheScope(g));
    metrics.cacheEvictions += scheduler.yieldPrefixesToNewSequence(prefix == null ? null : prefix.view());
    if (prefix == null) return model.newSequence(g.sampling());
    int n = Math.min(prefix.length(), promptIds.length - 1);
    metrics.prefixCacheHits++;
    metrics.prefixCacheTokens += n;
    return prefix.view().sequence.forkPrefix(n, g.sampling());
  }

  /** Who may share {@code g}'s cache as a prefix: its tenant and cache_salt ({@link SessionView#cacheScope}). */
  private static String cacheScope(Generate g) {
    return g.cacheScope();
  }

  /** The last {@code n} token ids of a sequence (fewer when it is shorter). */
  static int[] tail(Sequence s, int n) {
    int from = Math.max(0, s.length() - n);
    int[] out = new int[s.length() - from];
    for (int i = 0; i < out.length; i++) out[i] = s.tokenAt(from + i);
    return out;
  }

  private StepSync() {}
}
