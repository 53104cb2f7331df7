package io.tandem.orchestrator.http;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * The OpenAI API's response bodies as records, written by {@link Json} with snake_case names
 * ({@code finishReason} becomes {@code finish_reason}). Fields OpenAI sends as {@code null} are
 * written as null; fields it leaves out are marked {@link JsonInclude.Include#NON_NULL}.
 */
final class OpenAi {

  /** {@code {"error": {...}}}. */
  record ErrorBody(Error error) {}

  /** OpenAI's error object; {@code param} and {@code code} may be null. */
  record Error(String message, String type, String param, String code) {}

  /** One entry of {@code GET /v1/models}, and the body of {@code GET /v1/models/{id}}. */
  record Model(String id, String object, long created, String ownedBy, String root, String parent, Integer maxModelLen) {}

  record ModelList(String object, List<Model> data) {}

  /**
   * {@code usage}, with OpenAI's {@code prompt_tokens_details.cached_tokens} (vLLM sends it with
   * {@code --enable-prompt-tokens-details}): the prompt tokens read from a prefix cache; {@code
   * prompt_tokens_details} null where that is not known ({@code cached} < 0), as vLLM's is
   * without the flag.
   */
  record Usage(int promptTokens, int completionTokens, int totalTokens, PromptTokensDetails promptTokensDetails) {
    static Usage of(int prompt, int completion, int cached) {
      return new Usage(prompt, completion, prompt + completion, cached < 0 ? null : new PromptTokensDetails(cached));
    }
  }

  record PromptTokensDetails(int cachedTokens) {}

  /** A chat message as the server writes it; {@code reasoning_content} only when there was reasoning. */
  record Message(
      String role, String content, @JsonInclude(JsonInclude.Include.NON_NULL) String reasoningContent, String refusal) {}

  /**
   * A choice of a whole response: {@code message} for chat, {@code text} for completions; with
   * vLLM's {@code return_token_ids}, the prompt's and the output's token ids; {@code stop_reason}
   * (vLLM's, on every choice of its {@code CompletionResponseChoice} and {@code
   * ChatCompletionResponseChoice}) the stop string or stop token id that ended the output, null
   * when the end of sequence or the length did.
   */
  record Choice(
      int index,
      @JsonInclude(JsonInclude.Include.NON_NULL) Message message,
      @JsonInclude(JsonInclude.Include.NON_NULL) String text,
      Object logprobs,
      String finishReason,
      Object stopReason,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> promptTokenIds,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> tokenIds) {
    Choice(int index, Message message, String text, Object logprobs, String finishReason) {
      this(index, message, text, logprobs, finishReason, null, null, null);
    }
  }

  /**
   * A whole (non-streamed) response: {@code chat.completion} or {@code text_completion}; with vLLM's
   * {@code return_token_ids}, a chat response's {@code prompt_token_ids} (its {@code
   * ChatCompletionResponse} has them here, a completion's choice has its own).
   */
  record Completion(
      String id, String object, long created, String model, List<Choice> choices, Usage usage,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> promptTokenIds, Tandem tandem) {}

  /** What a chunk adds to a chat message; empty in the final chunk. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record Delta(String role, String content, String reasoningContent) {}

  /**
   * A choice of a chunk: {@code delta} for chat, {@code text} for completions; with vLLM's {@code
   * return_token_ids}, the token ids the chunk adds (and, on the first, the prompt's); on the chunk
   * that ends the output, its {@code finish_reason} and {@code stop_reason} (null for the others,
   * which leave {@code stop_reason} out, as vLLM's do).
   */
  record ChunkChoice(
      int index,
      @JsonInclude(JsonInclude.Include.NON_NULL) Delta delta,
      @JsonInclude(JsonInclude.Include.NON_NULL) String text,
      Object logprobs,
      String finishReason,
      @JsonInclude(JsonInclude.Include.NON_NULL) StopReason stopReason,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> promptTokenIds,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> tokenIds) {
    ChunkChoice(int index, Delta delta, String text, Object logprobs, String finishReason) {
      this(index, delta, text, logprobs, finishReason, null, null, null);
    }
  }

  /** {@code stop_reason} as {@link Choice} has it, the stop string, stop token id or null, written null included. */
  record StopReason(Object stop) {
    @JsonValue
    Object value() {
      return stop;
    }
  }

  /**
   * One SSE event of a stream; {@code usage}: a {@link Usage} on the usage chunk, {@link #NO_USAGE}
   * (written {@code "usage": null}) on the others of a stream with {@code include_usage}, as
   * OpenAI's API writes them, and left out without it; {@code tandem} as the chunk
   * says; with vLLM's {@code return_token_ids}, a chat stream's first chunk carries {@code
   * prompt_token_ids} here (vLLM's {@code ChatCompletionStreamResponse}; a completion's chunk
   * carries them in its choice).
   */
  record Chunk(
      String id,
      String object,
      long created,
      String model,
      List<ChunkChoice> choices,
      @JsonInclude(JsonInclude.Include.NON_NULL) Object usage,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Integer> promptTokenIds,
      @JsonInclude(JsonInclude.Include.NON_NULL) Object tandem) {}

  /** A chunk's {@code usage} before the usage chunk of a stream that asked for it: written as JSON null. */
  static final Object NO_USAGE = com.fasterxml.jackson.databind.node.NullNode.getInstance();

  /** Tandem's extension on a content chunk: which model wrote it. */
  record Author(String author) {}

  /**
   * Tandem's extension on a response and on a stream's last chunk: the mode, Tandem's own finish
   * reason, whether it degraded, the counters of the trace, and (whole responses only) the spans.
   */
  record Tandem(
      String mode,
      String finishReason,
      boolean degraded,
      JsonNode counters,
      @JsonInclude(JsonInclude.Include.NON_NULL) List<Span> spans) {}

  /** Tokens {@code [start, end)} of the output, written by {@code author} for {@code reason}. */
  record Span(String author, String reason, int start, int end, String text) {}

  private OpenAi() {}
}
