package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.session.Mode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.InvalidConfigException;
import io.tandem.protocol.config.SpeculativeConfig;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A validated {@code /v1/chat/completions} or {@code /v1/completions} request. {@link #parse} reads
 * the JSON tree field by field and refuses, with a 400 naming the field, anything of the wrong type,
 * out of range, or not supported.
 */
public record CompletionRequest(
    boolean chat,
    String model,
    Prompt prompt,
    int promptChars,
    int maxTokens,
    SamplingParams sampling,
    List<String> stop,
    boolean stream,
    boolean includeUsage,
    String user,
    Mode mode,
    SpeculativeConfig config) {

  static final int MAX_STOP = 4;
  static final int MAX_MESSAGES = 4096;

  private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed",
      "stop", "stream", "stream_options", "user", "n", "logprobs", "top_logprobs", "presence_penalty",
      "frequency_penalty", "logit_bias", "tandem");
  private static final Set<String> CHAT_ONLY = Set.of("messages", "max_completion_tokens", "tools", "tool_choice",
      "functions", "function_call", "parallel_tool_calls", "response_format", "store", "metadata", "service_tier",
      "reasoning_effort", "modalities", "audio", "prediction", "web_search_options");
  private static final Set<String> COMPLETIONS_ONLY = Set.of("prompt", "echo", "best_of", "suffix");

  /** The facts about the served models that validation needs. */
  public record Limits(List<String> modelNames, int contextLength, int defaultMaxTokens, int maxMaxTokens,
      double charsPerToken, SpeculativeConfig base) {}

  public static CompletionRequest parse(ObjectNode body, boolean chat, Limits limits) {
    String endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!COMMON.contains(f) && !(chat ? CHAT_ONLY : COMPLETIONS_ONLY).contains(f)) {
        String hint = (chat ? COMPLETIONS_ONLY : CHAT_ONLY).contains(f)
            ? " (it belongs to " + (chat ? "/v1/completions" : "/v1/chat/completions") + ")" : "";
        throw ApiError.invalid(f, "unrecognized request argument supplied to " + endpoint + ": " + f + hint);
      }
    }
    unsupported(body, limits);

    String model = string(body, "model", true);
    if (!limits.modelNames().contains(model))
      throw ApiError.notFound("model", "model_not_found", "the model '" + clip(model) + "' does not exist; this server serves "
          + String.join(", ", limits.modelNames()) + " (see GET /v1/models)");

    Prompt prompt;
    int chars;
    if (chat) {
      List<ChatMessage> messages = messages(body.get("messages"));
      prompt = Prompt.chat(messages);
      chars = messages.stream().mapToInt(m -> m.content().length()).sum();
    } else {
      String raw = rawPrompt(body.get("prompt"));
      prompt = Prompt.raw(raw);
      chars = raw.length();
    }
    long estimatedPromptTokens = (long) Math.ceil(chars / limits.charsPerToken());
    if (estimatedPromptTokens >= limits.contextLength())
      throw new ApiError(400, "invalid_request_error", chat ? "messages" : "prompt", "context_length_exceeded",
          "the prompt is too long: " + chars + " characters, at least " + estimatedPromptTokens
              + " tokens, and the models take at most " + limits.contextLength() + " tokens", 0);

    Integer maxTokens = integer(body, "max_tokens", 1, Integer.MAX_VALUE);
    if (chat) {
      Integer mct = integer(body, "max_completion_tokens", 1, Integer.MAX_VALUE);
      if (mct != null && maxTokens != null && !mct.equals(maxTokens))
        throw ApiError.invalid("max_completion_tokens", "max_tokens (" + maxTokens + ") and max_completion_tokens ("
            + mct + ") disagree; give one of them");
      if (mct != null) maxTokens = mct;
    }
    int ceiling = Math.min(limits.maxMaxTokens(), limits.contextLength() - 1);
    if (maxTokens != null && maxTokens > ceiling)
      throw ApiError.invalid(body.has("max_tokens") ? "max_tokens" : "max_completion_tokens", "max_tokens is "
          + maxTokens + " but this server generates at most " + ceiling + " tokens per request");
    int effectiveMax = maxTokens != null ? maxTokens
        : (int) Math.max(1, Math.min(limits.defaultMaxTokens(), limits.contextLength() - 1 - estimatedPromptTokens));

    SamplingParams d = SamplingParams.PAPER;
    Double temperature = number(body, "temperature", 0, 2);
    Double topP = number(body, "top_p", 0, 1);
    if (topP != null && topP == 0) throw ApiError.invalid("top_p", "top_p must be greater than 0 and at most 1, got 0");
    Integer topK = integer(body, "top_k", -1, 1_000_000);
    Long seed = null;
    JsonNode s = body.get("seed");
    if (s != null && !s.isNull()) {
      if (!s.isIntegralNumber() || !s.canConvertToLong())
        throw ApiError.invalid("seed", "seed must be an integer (64-bit), got " + Json.kind(s));
      seed = s.asLong();
    }
    SamplingParams sampling = new SamplingParams(
        temperature != null ? temperature : d.temperature(),
        topK != null ? Math.max(0, topK) : d.topK(),
        topP != null ? topP : d.topP(),
        seed);

    List<String> stop = stop(body.get("stop"));
    Boolean stream = bool(body, "stream");
    boolean includeUsage = false;
    JsonNode so = body.get("stream_options");
    if (so != null && !so.isNull()) {
      if (stream == null || !stream)
        throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
      if (!so.isObject()) throw ApiError.invalid("stream_options", "stream_options must be an object, got " + Json.kind(so));
      for (Iterator<String> it = so.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!f.equals("include_usage") && !f.equals("continuous_usage_stats"))
          throw ApiError.invalid("stream_options." + f, "unrecognized field in stream_options: " + f + " (include_usage is supported)");
      }
      Boolean iu = bool((ObjectNode) so, "include_usage");
      includeUsage = iu != null && iu;
    }
    String user = string(body, "user", false);

    Mode mode = Mode.speculative;
    SpeculativeConfig config = limits.base();
    JsonNode t = body.get("tandem");
    if (t != null && !t.isNull()) {
      if (!t.isObject())
        throw ApiError.invalid("tandem", "tandem must be an object such as {\"mode\": \"small\", \"max_target_tokens\": 30}, got " + Json.kind(t));
      ObjectNode overrides = ((ObjectNode) t).deepCopy();
      JsonNode m = overrides.remove("mode");
      if (m != null && !m.isNull()) {
        if (!m.isTextual()) throw ApiError.invalid("tandem.mode", "tandem.mode must be a string: speculative, small or large");
        try {
          mode = Mode.valueOf(m.asText());
        } catch (IllegalArgumentException e) {
          throw ApiError.invalid("tandem.mode", "tandem.mode is '" + clip(m.asText()) + "'; it must be speculative, small or large");
        }
      }
      if (overrides.size() > 0) {
        try {
          @SuppressWarnings("unchecked")
          Map<String, Object> map = Json.MAPPER.convertValue(overrides, Map.class);
          config = config.withOverrides(map);
        } catch (InvalidConfigException e) {
          throw ApiError.invalid(e.key() == null ? "tandem" : "tandem." + e.key(), "tandem: " + stripSource(e.getMessage()));
        } catch (IllegalArgumentException e) {
          throw ApiError.invalid("tandem", "tandem: " + stripSource(e.getMessage()));
        }
      }
    }
    return new CompletionRequest(chat, model, prompt, chars, effectiveMax, sampling, stop, stream != null && stream,
        includeUsage, user, mode, config);
  }

  private static String stripSource(String m) {
    return m != null && m.startsWith("request: ") ? m.substring("request: ".length()) : String.valueOf(m);
  }

  /** Parameters OpenAI has and Tandem does not: accepted only at their neutral value. */
  private static void unsupported(ObjectNode body, Limits limits) {
    JsonNode n = body.get("n");
    if (n != null && !n.isNull()) {
      if (!n.isIntegralNumber()) throw ApiError.invalid("n", "n must be an integer, got " + Json.kind(n));
      if (n.asLong() != 1) throw ApiError.unsupported("n", "n = " + n.asText() + " is not supported: Tandem returns one choice per request (n = 1)");
    }
    JsonNode lp = body.get("logprobs");
    if (lp != null && !lp.isNull() && !(lp.isBoolean() && !lp.asBoolean()))
      throw ApiError.unsupported("logprobs", "logprobs are not supported");
    notSet(body, "top_logprobs", "top_logprobs are not supported");
    for (String f : List.of("tools", "functions"))
      if (body.has(f) && !body.get(f).isNull() && !(body.get(f).isArray() && body.get(f).isEmpty()))
        throw ApiError.unsupported(f, f + " are not supported: Tandem does not call tools");
    for (String f : List.of("tool_choice", "function_call")) {
      JsonNode v = body.get(f);
      if (v != null && !v.isNull() && !(v.isTextual() && v.asText().equals("none")))
        throw ApiError.unsupported(f, f + " is not supported: Tandem does not call tools");
    }
    for (String f : List.of("presence_penalty", "frequency_penalty")) {
      JsonNode v = body.get(f);
      if (v != null && !v.isNull() && (!v.isNumber() || v.asDouble() != 0))
        throw ApiError.unsupported(f, f + " is not supported (only 0)");
    }
    JsonNode lb = body.get("logit_bias");
    if (lb != null && !lb.isNull() && !(lb.isObject() && lb.isEmpty()))
      throw ApiError.unsupported("logit_bias", "logit_bias is not supported");
    JsonNode rf = body.get("response_format");
    if (rf != null && !rf.isNull() && !(rf.isObject() && "text".equals(rf.path("type").asText())))
      throw ApiError.unsupported("response_format", "response_format other than {\"type\": \"text\"} is not supported");
    JsonNode echo = body.get("echo");
    if (echo != null && !echo.isNull() && !(echo.isBoolean() && !echo.asBoolean()))
      throw ApiError.unsupported("echo", "echo is not supported");
    JsonNode bo = body.get("best_of");
    if (bo != null && !bo.isNull() && !(bo.isIntegralNumber() && bo.asLong() == 1))
      throw ApiError.unsupported("best_of", "best_of other than 1 is not supported");
    notSet(body, "suffix", "suffix is not supported");
    for (String f : List.of("audio", "modalities", "prediction", "web_search_options"))
      notSet(body, f, f + " is not supported");
  }

  private static void notSet(ObjectNode body, String f, String message) {
    JsonNode v = body.get(f);
    if (v != null && !v.isNull()) throw ApiError.unsupported(f, message);
  }

  private static List<ChatMessage> messages(JsonNode m) {
    if (m == null || m.isNull()) throw ApiError.invalid("messages", "messages is required: a non-empty array of {\"role\", \"content\"}");
    if (!m.isArray()) throw ApiError.invalid("messages", "messages must be an array, got " + Json.kind(m));
    if (m.isEmpty()) throw ApiError.invalid("messages", "messages must not be empty");
    if (m.size() > MAX_MESSAGES) throw ApiError.invalid("messages", "too many messages: " + m.size() + " (at most " + MAX_MESSAGES + ")");
    List<ChatMessage> out = new ArrayList<>();
    for (int i = 0; i < m.size(); i++) {
      String p = "messages[" + i + "]";
      JsonNode msg = m.get(i);
      if (!msg.isObject()) throw ApiError.invalid(p, p + " must be an object with role and content, got " + Json.kind(msg));
      for (Iterator<String> it = msg.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (f.equals("tool_calls") || f.equals("tool_call_id") || f.equals("function_call"))
          throw ApiError.unsupported(p + "." + f, p + "." + f + ": tool calls are not supported");
        if (!Set.of("role", "content", "name", "refusal").contains(f))
          throw ApiError.invalid(p + "." + f, p + " has an unrecognized field '" + clip(f) + "' (a message has role and content)");
      }
      JsonNode role = msg.get("role");
      if (role == null || !role.isTextual())
        throw ApiError.invalid(p + ".role", p + ".role must be a string: system, user or assistant");
      String r = role.asText();
      if (r.equals("developer")) r = "system";
      if (r.equals("tool") || r.equals("function"))
        throw ApiError.unsupported(p + ".role", p + ".role '" + r + "': tool messages are not supported");
      if (!Set.of("system", "user", "assistant").contains(r))
        throw ApiError.invalid(p + ".role", p + ".role is '" + clip(r) + "'; it must be system, user or assistant");
      out.add(new ChatMessage(r, content(msg.get("content"), p + ".content")));
    }
    return out;
  }

  private static String content(JsonNode c, String p) {
    if (c == null || c.isNull()) return "";
    if (c.isTextual()) return c.asText();
    if (!c.isArray()) throw ApiError.invalid(p, p + " must be a string or an array of text parts, got " + Json.kind(c));
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < c.size(); i++) {
      JsonNode part = c.get(i);
      String pp = p + "[" + i + "]";
      if (!part.isObject()) throw ApiError.invalid(pp, pp + " must be an object {\"type\": \"text\", \"text\": ...}");
      String type = part.path("type").asText("");
      if (!type.equals("text"))
        throw ApiError.unsupported(pp + ".type", pp + " has type '" + clip(type) + "': only text parts are supported");
      JsonNode text = part.get("text");
      if (text == null || !text.isTextual()) throw ApiError.invalid(pp + ".text", pp + ".text must be a string");
      sb.append(text.asText());
    }
    return sb.toString();
  }

  private static String rawPrompt(JsonNode p) {
    if (p == null || p.isNull()) throw ApiError.invalid("prompt", "prompt is required: a string");
    if (p.isTextual()) return p.asText();
    if (p.isArray()) {
      if (p.size() == 1 && p.get(0).isTextual()) return p.get(0).asText();
      if (p.size() > 1) throw ApiError.unsupported("prompt", "a batch of " + p.size() + " prompts is not supported; send one prompt per request");
      throw ApiError.unsupported("prompt", "prompt must be a string (token-id prompts are not supported)");
    }
    throw ApiError.invalid("prompt", "prompt must be a string, got " + Json.kind(p));
  }

  private static List<String> stop(JsonNode s) {
    if (s == null || s.isNull()) return List.of();
    List<String> out = new ArrayList<>();
    if (s.isTextual()) out.add(s.asText());
    else if (s.isArray()) {
      if (s.size() > MAX_STOP) throw ApiError.invalid("stop", "stop has " + s.size() + " strings; at most " + MAX_STOP + " are allowed");
      for (int i = 0; i < s.size(); i++) {
        if (!s.get(i).isTextual()) throw ApiError.invalid("stop", "stop[" + i + "] must be a string, got " + Json.kind(s.get(i)));
        out.add(s.get(i).asText());
      }
    } else throw ApiError.invalid("stop", "stop must be a string or an array of strings, got " + Json.kind(s));
    for (String x : out) {
      if (x.isEmpty()) throw ApiError.invalid("stop", "stop strings must not be empty");
      if (x.length() > 256) throw ApiError.invalid("stop", "stop strings must be at most 256 characters");
    }
    return List.copyOf(out);
  }

  private static String string(ObjectNode body, String f, boolean required) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) {
      if (required) throw ApiError.invalid(f, f + " is required");
      return null;
    }
    if (!v.isTextual()) throw ApiError.invalid(f, f + " must be a string, got " + Json.kind(v));
    return v.asText();
  }

  private static Boolean bool(ObjectNode body, String f) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    if (!v.isBoolean()) throw ApiError.invalid(f, f + " must be true or false, got " + Json.kind(v));
    return v.asBoolean();
  }

  private static Integer integer(ObjectNode body, String f, long min, long max) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    boolean integral = v.isIntegralNumber() || (v.isNumber() && v.asDouble() == Math.rint(v.asDouble()) && Double.isFinite(v.asDouble()));
    if (!integral) throw ApiError.invalid(f, f + " must be an integer, got " + Json.kind(v) + (v.isValueNode() ? " (" + clip(v.asText()) + ")" : ""));
    if (!v.canConvertToLong() || v.asLong() < min || v.asLong() > max)
      throw ApiError.invalid(f, f + " must be between " + min + " and " + max + ", got " + clip(v.asText()));
    return (int) v.asLong();
  }

  private static Double number(ObjectNode body, String f, double min, double max) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    if (!v.isNumber()) throw ApiError.invalid(f, f + " must be a number, got " + Json.kind(v));
    double x = v.asDouble();
    if (!(x >= min && x <= max)) throw ApiError.invalid(f, f + " must be between " + min + " and " + max + ", got " + clip(v.asText()));
    return x;
  }

  static String clip(String s) {
    if (s == null) return "null";
    return s.length() > 64 ? s.substring(0, 64) + "..." : s;
  }
}
