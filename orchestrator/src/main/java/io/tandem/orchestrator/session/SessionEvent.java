package io.tandem.orchestrator.session;

import io.tandem.protocol.Author;
import io.tandem.protocol.CborSerializable;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.SpanReason;
import io.tandem.protocol.Token;
import io.tandem.protocol.Trace;
import java.util.List;

/** What a session tells its client: output as it is decided, then how it ended. */
public sealed interface SessionEvent extends CborSerializable {

  /**
   * Output tokens, in order, all written by one author for one reason; {@code cachedTokens} is what
   * the worker that read the prompt has said so far of its prefix cache ({@link Usage#cachedTokens},
   * -1: nothing yet), so that an answer cut before {@link Finished} (a shutdown's deadline, a
   * failure) reports it too.
   */
  record Delta(Author author, SpanReason reason, List<Token> tokens, int cachedTokens) implements SessionEvent {
    public String text() {
      return Token.concat(tokens);
    }
  }

  /**
   * The generation ended; {@code degraded} when it finished without the large model it lost; {@code
   * queueNanos} is how long its steps waited in workers' queues before a worker took them, summed over
   * its steps (each worker's {@code Done.queueNanos}), for vLLM's {@code request_queue_time_seconds}.
   */
  record Finished(Trace trace, Usage usage, boolean degraded, long queueNanos) implements SessionEvent {}

  /**
   * The generation could not be completed: {@code code} is what the client's status follows from,
   * {@code message} says why, {@code partial} is the trace so far (null when the session never
   * started).
   */
  /**
   * A session's end that is not an answer, in words for a benchmark's one-line error: its failure's
   * message and code (tester46c: a Java record, its partial trace and counters included).
   */
  static String failure(SessionEvent end) {
    return end instanceof Failed f ? "a session failed: " + f.message() + " (" + f.code() + ")"
        : "a session ended without an answer: " + end.getClass().getSimpleName();
  }

  record Failed(FailureCode code, String message, Trace partial) implements SessionEvent {
    /** True when sending the same request again may work. */
    public boolean retryable() {
      return code.retryable();
    }
  }

  /**
   * Token counts as the OpenAI API reports them: {@code cachedTokens} of the prompt's were read from
   * a worker's prefix cache rather than prefilled by the model that read the prompt first (the small
   * model in speculative mode), OpenAI's {@code usage.prompt_tokens_details.cached_tokens}; -1 when
   * not known (an engine that does not report it, or whose answer a stop string cut before its end).
   */
  record Usage(int promptTokens, int completionTokens, int cachedTokens) implements CborSerializable {
    public int totalTokens() {
      return promptTokens + completionTokens;
    }
  }
}
