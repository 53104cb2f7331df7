package io.tandem.protocol.worker;

import akka.actor.typed.ActorRef;
import io.tandem.protocol.CborSerializable;
import io.tandem.protocol.Chunk;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.Token;
import java.util.List;

/**
 * The messages between sessions and model workers: the delta/position sync protocol of DESIGN.md.
 *
 * <p>A request says "session S, your view should be position P (session tokens after the prompt,
 * or -1 for nothing at all, in which case the prompt comes along), append these chunks, then
 * generate under these limits". A worker holding more than P truncates (rolling back a discarded
 * look-ahead); one holding less answers {@link Resync} with what it has, and the session re-sends
 * from there.
 */
public final class WorkerProtocol {

  /** Everything a worker can be told. */
  public interface Command extends CborSerializable {}

  /** Everything a worker answers to a session about one request. */
  public interface Reply extends CborSerializable {
    long requestId();
  }

  /** The limits of one generation step. */
  public record Limits(
      String inject, int maxNewTokens, int maxTotalTokens, boolean stopAtTrigger, List<String> triggers)
      implements CborSerializable {
    public Limits {
      if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens < 0: " + maxNewTokens);
      if (maxTotalTokens < 0) throw new IllegalArgumentException("maxTotalTokens < 0: " + maxTotalTokens);
      triggers = triggers == null ? List.of() : List.copyOf(triggers);
    }
  }

  /** Sync the session's view, then generate; partial tokens stream back when {@code stream}. */
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
      ActorRef<Reply> replyTo)
      implements Command {
    public Generate {
      append = append == null ? List.of() : List.copyOf(append);
      if (basePosition < -1) throw new IllegalArgumentException("basePosition < -1");
      if (basePosition == -1 && prompt == null)
        throw new IllegalArgumentException("a request from position -1 must carry the prompt");
    }
  }

  /** Stop working on a request (its session timed out or its client went away). */
  public record Cancel(String sessionId, long requestId) implements Command {}

  /** The session is over: free its cache. */
  public record Release(String sessionId) implements Command {}

  /** Stop the worker now; sessions with requests on it see it terminate and move elsewhere. */
  public enum Stop implements Command {
    INSTANCE
  }

  /** Ask for the worker's current figures. */
  public record GetStats(ActorRef<WorkerStats> replyTo) implements Command {}

  /**
   * Count a prompt's tokens as this worker's model reads it, before any session starts (the HTTP
   * layer checks prompt plus {@code max_tokens} against the context as vLLM's server does). Exactly
   * one of {@code prompt} (text or chat, rendered with the model's template) and {@code tokenIds}
   * (a prompt already tokenized, decoded here to its text) is given.
   */
  public record CountTokens(Prompt prompt, List<Integer> tokenIds, ActorRef<TokenCount> replyTo) implements Command {
    public CountTokens {
      if ((prompt == null) == (tokenIds == null))
        throw new IllegalArgumentException("count either a prompt or token ids, exactly one");
      if (tokenIds != null) tokenIds = List.copyOf(tokenIds);
    }
  }

  /**
   * The answer to {@link CountTokens}: {@code tokens} in the prompt; for token ids, their {@code
   * text} and the {@code tokenizerKey} of their vocabulary (null for a text prompt); the model's
   * {@code contextLength}; and {@code problem}, non-null when the prompt cannot be used (a token id
   * outside the vocabulary), saying why.
   */
  public record TokenCount(int tokens, String text, String tokenizerKey, int contextLength, String problem)
      implements CborSerializable {}

  /**
   * Tokens as they are generated (only for requests with {@code stream}), in the vocabulary named
   * {@code tokenizerKey} (so that a session can hand them on if this worker is lost mid-step).
   */
  public record Partial(long requestId, List<Token> injected, List<Token> generated, String tokenizerKey)
      implements Reply {}

  /**
   * The request is done: the tokens of the injected text (as this worker tokenized it) and the
   * generated ones; {@code eos} when the last generated token ends the sequence.
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
      long computeNanos)
      implements Reply {}

  /** The worker does not hold position P; it holds {@code havePosition} (-1: nothing). */
  public record Resync(long requestId, int havePosition) implements Reply {}

  /**
   * The worker cannot take the request now (queue full, draining); {@code code} says why and
   * whether another worker, or the same one later, may take it.
   */
  public record Rejected(long requestId, FailureCode code, String reason) implements Reply {
    public boolean retryable() {
      return code.retryable();
    }
  }

  /** The request failed inside the worker: {@code code} is what the session acts on, the message says why. */
  public record Failed(long requestId, FailureCode code, String message) implements Reply {}

  /**
   * A worker's figures at one moment. {@code unseenTokens}: tokens that finished requests brought
   * and the worker had not processed yet; over {@code requestsDone} it is the prefill per request,
   * the figure that shows incremental sync works.
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
      long upNanos)
      implements CborSerializable {}

  private WorkerProtocol() {}
}
