package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.worker.WorkerProtocol.TokenCount;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated {@code POST /tokenize} or {@code POST /detokenize} request, as vLLM's server takes
 * them ({@code TokenizeCompletionRequest}, {@code TokenizeChatRequest}, {@code DetokenizeRequest}
 * in {@code vllm/entrypoints/openai/protocol.py}), so that another Tandem without the model's
 * tokenizer can use this node as its engine: {@code {model, prompt}} or {@code {model, messages}}
 * to token ids, {@code {model, tokens}} to text, read by a worker of the node's default role
 * exactly as its {@code /v1/completions} reads a prompt.
 *
 * <p>A text prompt is tokenized as {@code /v1/completions} tokenizes one: with the tokenizer's
 * special tokens unless {@code add_special_tokens} is false (vLLM's {@code TokenizeCompletionRequest},
 * default true); chat messages get none ({@code add_special_tokens: true} beside them is a 400, as is
 * any field Tandem does not act on: the template writes them). Chat messages are
 * rendered as its {@code /v1/chat/completions} renders them, with the same fields ({@code
 * add_generation_prompt}, {@code continue_final_message}, {@code chat_template_kwargs}, {@code
 * tools}). Exactly one of {@code prompt} (a text prompt or chat messages) and {@code tokens} is set.
 */
record TokenizerRequest(Prompt prompt, List<Integer> tokens, Map<Integer, String> outOfRange) {

  private static final Set<String> TOKENIZE = Set.of("model", "prompt", "messages", "add_special_tokens",
      "add_generation_prompt", "continue_final_message", "chat_template_kwargs", "tools", "tool_choice", "return_token_strs");
  private static final Set<String> DETOKENIZE = Set.of("model", "tokens");

  /**
   * Reads {@code body} of {@code /tokenize} ({@code detokenize} false) or {@code /detokenize}.
   *
   * @throws ApiError 400 naming the field that is wrong or asks for what Tandem does not do, 404
   *     for a model this server does not serve
   */
  static TokenizerRequest parse(ObjectNode body, boolean detokenize, List<String> modelNames) {
    String endpoint = detokenize ? "/detokenize" : "/tokenize";
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!(detokenize ? DETOKENIZE : TOKENIZE).contains(f))
        throw ApiError.invalid(CompletionRequest.clip(f), "unrecognized request argument supplied to " + endpoint + ": "
            + CompletionRequest.clip(f));
    }
    JsonNode model = body.get("model");
    if (model != null && !model.isNull()) {
      if (!model.isTextual()) throw ApiError.invalid("model", "model must be a string, got " + Json.kind(model));
      if (!model.asText().isEmpty() && !modelNames.contains(model.asText())) // empty: unset, as vLLM takes it
        throw ApiError.notFound("model", "model_not_found", "the model '" + CompletionRequest.clip(model.asText())
            + "' does not exist; this server serves " + String.join(", ", modelNames) + " (see GET /v1/models)");
    }
    if (detokenize) {
      Map<Integer, String> outOfRange = new LinkedHashMap<>();
      return new TokenizerRequest(null, ids(body.get("tokens"), outOfRange), Map.copyOf(outOfRange));
    }

    neutral(body, "return_token_strs", false, "token strings are not returned");
    JsonNode prompt = body.get("prompt");
    JsonNode messages = body.get("messages");
    boolean hasPrompt = prompt != null && !prompt.isNull();
    if (hasPrompt == (messages != null && !messages.isNull()))
      throw ApiError.invalid(hasPrompt ? "messages" : "prompt", "give exactly one of prompt (a text) and messages (chat messages)");
    // Taken so that a chat request's body, which sends "none" with its tools, can be tokenized as it is.
    JsonNode toolChoice = body.get("tool_choice");
    if (toolChoice != null && !toolChoice.isNull() && !(toolChoice.isTextual() && toolChoice.asText().equals("none")))
      throw ApiError.unsupported("tool_choice", "tool_choice on /tokenize may only be \"none\", as a chat request with tools"
          + " sends it (the tools are rendered either way); leave it out");
    Boolean specials = CompletionRequest.bool(body, "add_special_tokens");
    if (!hasPrompt && Boolean.TRUE.equals(specials))
      throw ApiError.unsupported("add_special_tokens", "add_special_tokens = true is not supported with messages (the chat"
          + " template writes the special tokens a chat prompt needs); leave it out or send false");
    if (!hasPrompt)
      return new TokenizerRequest(CompletionRequest.chatPrompt(body, CompletionRequest.tools(body.get("tools"))), null, Map.of());
    for (String chatOnly : List.of("add_generation_prompt", "continue_final_message", "chat_template_kwargs", "tools", "tool_choice")) {
      JsonNode v = body.get(chatOnly);
      if (v != null && !v.isNull())
        throw ApiError.invalid(chatOnly, chatOnly + " applies to chat messages; a text prompt is tokenized as it is");
    }
    // An empty text is tokenized too (no tokens, or the special tokens its tokenizer adds), as vLLM's /tokenize does:
    // only a prompt to generate from must not be empty.
    if (!prompt.isTextual()) throw ApiError.invalid("prompt", "prompt must be a string, got " + Json.kind(prompt));
    return new TokenizerRequest(Prompt.raw(prompt.asText(), specials == null || specials), null, Map.of());
  }

  /** A boolean field accepted at {@code value} only, its type checked as chat's and completions' booleans are. */
  private static void neutral(ObjectNode body, String f, boolean value, String why) {
    Boolean v = CompletionRequest.bool(body, f);
    if (v != null && v != value)
      throw ApiError.unsupported(f, f + " = " + v + " is not supported (" + why + "); leave it out or send " + value);
  }

  private static List<Integer> ids(JsonNode t, Map<Integer, String> outOfRange) {
    if (t == null || t.isNull()) throw ApiError.invalid("tokens", "tokens is required: a list of token ids");
    // No tokens are the empty text, as vLLM's /detokenize answers them (its tokenizer's decode of []).
    if (!t.isArray()) throw ApiError.invalid("tokens", "tokens must be a list of token ids, got " + Json.kind(t));
    return CompletionRequest.tokenIds(t, "tokens", CompletionRequest.TOKEN_IDS, outOfRange);
  }

  /**
   * The answer to this request from a worker's count: vLLM's {@code TokenizeResponse} ({@code
   * count}, {@code max_model_len}, {@code tokens}) or {@code DetokenizeResponse} ({@code prompt}).
   *
   * @throws ApiError 400 when the worker could not read it (a token id outside its vocabulary)
   */
  Map<String, Object> answer(TokenCount c) {
    if (c.problem() != null) {
      String param = tokens != null ? CompletionRequest.tokenIdsParam("tokens", tokens, c.vocabSize()) : "prompt";
      // An id below 0 or beyond an int went to the worker as -1: its message names that, this one the id sent.
      String sent = param.startsWith("tokens[") ? outOfRange.get(Integer.parseInt(param.substring(7, param.length() - 1))) : null;
      if (sent != null)
        throw ApiError.invalid(param, param + " is token id " + sent + ", outside the model's vocabulary"
            + (c.vocabSize() > 0 ? " of " + c.vocabSize() + " tokens (ids 0 to " + (c.vocabSize() - 1) + ")" : ": ids are 0 or more"));
      throw ApiError.invalid(param, c.problem());
    }
    Map<String, Object> out = new LinkedHashMap<>();
    if (tokens != null) {
      out.put("prompt", c.text());
    } else {
      out.put("count", c.tokens());
      out.put("max_model_len", c.contextLength());
      out.put("tokens", c.tokenIds());
    }
    return out;
  }
}
