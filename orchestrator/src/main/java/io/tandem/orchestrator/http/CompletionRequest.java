package io.tandem.orchestrator.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tandem.orchestrator.session.Mode;
import io.tandem.protocol.ChatMessage;
import io.tandem.protocol.ChatTemplateArgs;
import io.tandem.protocol.JsonInteger;
import io.tandem.protocol.Prompt;
import io.tandem.protocol.SamplingParams;
import io.tandem.protocol.config.InvalidConfigException;
import io.tandem.protocol.config.KeySuggestions;
import io.tandem.protocol.config.SpeculativeConfig;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Predicate;

/**
 * A validated {@code /v1/chat/completions} or {@code /v1/completions} request. {@link #parse} reads
 * the JSON tree field by field and refuses, with a 400 naming the field, anything of the wrong type,
 * out of range, or asking for behaviour Tandem does not implement. The rule for fields Tandem does
 * not act on (README, "Serving"): a field is accepted when Tandem implements it, when leaving it
 * unimplemented cannot change the result ({@code parallel_tool_calls}, {@code store}, {@code
 * metadata}, {@code service_tier}, {@code reasoning_effort}, {@code prompt_cache_key}, {@code
 * prompt_cache_retention}, {@code safety_identifier}, and the fields servers write on assistant messages), or when it carries its neutral value ({@link #NEUTRAL}); any other value of
 * those is a 400 {@code unsupported_parameter}, and an unknown field a 400.
 *
 * <p>The prompt is {@code prompt} (text or chat messages) or {@code promptTokenIds} (a
 * {@code /v1/completions} prompt given as token ids of the small model), exactly one. {@code
 * maxTokens} is null when the client gave none: the server then fits the generation to the context.
 * {@code requestId} is vLLM's {@code request_id} (null when not given), which names the response;
 * an {@code X-Request-Id} header takes its place ({@link #namedBy}).
 */
public record CompletionRequest(
    boolean chat,
    String model,
    Prompt prompt,
    List<Integer> promptTokenIds,
    String promptTokenIdsPath,
    Integer maxTokens,
    SamplingParams sampling,
    List<String> stop,
    boolean stream,
    boolean includeUsage,
    String user,
    Mode mode,
    SpeculativeConfig config,
    EngineFields engine,
    String requestId) {

  /**
   * vLLM's extensions that let one server be another's engine ({@code
   * vllm/entrypoints/openai/protocol.py}, {@code CompletionRequest}): {@code
   * include_stop_str_in_output} (SGLang's {@code no_stop_trim}) keeps the text of the stop string
   * that ended the output; {@code return_token_ids} adds each chunk's {@code token_ids} (and the
   * first one's {@code prompt_token_ids}); {@code skip_special_tokens} false is accepted with {@code
   * return_token_ids}, whose ids carry the special tokens (their text is not written); {@code
   * stop_token_ids} ends the output with the first token of these ids, with {@code stop_reason} that
   * id; the token counts in {@code usage} and its id is in {@code token_ids}, but its text is written
   * only with {@code include_stop_str_in_output}, as vLLM's detokenizer leaves a stop token's out
   * ({@code vllm/v1/engine/detokenizer.py}, {@code IncrementalDetokenizer.update}). The ids are those of the model that
   * writes the token: the two models of a pair share a vocabulary (the paper's are both Qwen2.5's).
   * {@code stopTokenIds} keeps them as sent, so that a refusal names the element at fault. {@code
   * cache_salt} keeps the request's cache apart from those of its tenant's requests with another
   * salt or none (vLLM's, against a prefix cache telling one user what another sent; Tandem's
   * tenants share no cache with each other anyway), null when not given.
   */
  public record EngineFields(boolean includeStopStrInOutput, boolean returnTokenIds, List<Integer> stopTokenIds,
      String cacheSalt) {
    static final EngineFields NONE = new EngineFields(false, false, List.of(), null);
  }

  /**
   * The most stop strings a request may give: OpenAI allows 4, vLLM sets no limit and evaluation
   * harnesses send longer lists ({@code until}); each is looked for at every token, so some bound.
   */
  static final int MAX_STOP = 64;
  /** The most characters (code points) a request's stop strings may have together: OpenAI's 4 of 256. */
  static final int MAX_STOP_CHARS = 1024;
  static final int MAX_REQUEST_ID = 256;
  /**
   * max_tokens of a {@code /v1/completions} request that gives none: OpenAI's legacy Completions
   * API ("Defaults to 16") and vLLM's {@code CompletionRequest}. Chat has no such default (the rest
   * of the context, as vLLM's; {@code tandem.http.default-max-tokens} may cap it).
   */
  static final int COMPLETIONS_DEFAULT_MAX_TOKENS = 16;
  private static final Set<String> RESERVED_TEMPLATE_VARIABLES = Set.of("messages", "add_generation_prompt",
      "continue_final_message", "tools");
  static final int MAX_MESSAGES = 4096;

  /**
   * The JSON type a request field takes, as a refusal names it ({@code "an integer"}), and the test
   * of a value that is not null. An integer may be written as a number without a fraction ({@code
   * 2.0}), as vLLM's pydantic models take it ({@link JsonInteger}).
   */
  private record Type(String name, Predicate<JsonNode> is) {
    static final Type INTEGER = new Type("an integer", JsonInteger::is);
    static final Type NUMBER = new Type("a number", JsonNode::isNumber);
    static final Type BOOLEAN = new Type("true or false", JsonNode::isBoolean);
    static final Type STRING = new Type("a string", JsonNode::isTextual);
    static final Type OBJECT = new Type("an object", JsonNode::isObject);
    static final Type ARRAY = new Type("an array", JsonNode::isArray);
    static final Type STRING_OR_OBJECT = new Type("a string or an object", v -> v.isTextual() || v.isObject());
    /** A field refused at any value but null: its type does not change what the refusal says. */
    static final Type ANY = new Type("anything", v -> true);

    /** Whether this type takes numbers: one beyond a double's range is then out of range, not of another type. */
    boolean takesNumbers() {
      return is.test(IntNode.valueOf(0));
    }
  }

  /**
   * A field accepted only at its neutral value: that value (for the message), the type the field
   * takes (a value of another type is a mistake, not a request for something unsupported), whether
   * a value of that type is the neutral one, and why any other is refused (a reason that does not
   * name the field, which the message names already).
   */
  private record Neutral(String neutral, Type type, Predicate<JsonNode> isNeutral, String why) {
    /** A number field whose neutral value is {@code x} (however written: 1, 1.0). */
    static Neutral number(Type type, long x, String why) {
      return new Neutral(Long.toString(x), type, v -> v.isIntegralNumber() ? v.bigIntegerValue().equals(BigInteger.valueOf(x))
          : v.asDouble() == x, why);
    }

    static Neutral bool(boolean b, String why) {
      return new Neutral(Boolean.toString(b), Type.BOOLEAN, v -> v.asBoolean() == b, why);
    }

    /** A field whose only neutral value is null (or leaving it out). */
    static Neutral none(String why) {
      return none(Type.ANY, why);
    }

    /** A field of {@code type} whose only neutral value is null: a value of another type is a mistake. */
    static Neutral none(Type type, String why) {
      return new Neutral("null", type, v -> false, why);
    }
  }

  private static final String NO_LOGPROBS = "Tandem returns no token probabilities";
  private static final String NO_PENALTIES = "Tandem applies no penalties";
  private static final String NO_TOOLS = "Tandem does not call tools";
  private static final String NO_STRUCTURE = "Tandem does not constrain the output to a schema or grammar";
  private static final String TEXT_ONLY = "Tandem writes text only";

  private static final Map<String, Neutral> NEUTRAL = Map.ofEntries(
      Map.entry("n", Neutral.number(Type.INTEGER, 1, "Tandem returns one choice per request")),
      Map.entry("logprobs", Neutral.bool(false, NO_LOGPROBS)),
      Map.entry("top_logprobs", Neutral.number(Type.INTEGER, 0, NO_LOGPROBS)),
      Map.entry("presence_penalty", Neutral.number(Type.NUMBER, 0, NO_PENALTIES)),
      Map.entry("frequency_penalty", Neutral.number(Type.NUMBER, 0, NO_PENALTIES)),
      Map.entry("repetition_penalty", Neutral.number(Type.NUMBER, 1, NO_PENALTIES)),
      Map.entry("min_p", Neutral.number(Type.NUMBER, 0, "Tandem samples with temperature, top_k and top_p only")),
      Map.entry("min_tokens", Neutral.number(Type.INTEGER, 0, "the output ends at the first end-of-sequence token")),
      Map.entry("ignore_eos", Neutral.bool(false, "the output ends at the first end-of-sequence token")),
      Map.entry("logit_bias", new Neutral("{}", Type.OBJECT, JsonNode::isEmpty, "Tandem does not bias token probabilities")),
      Map.entry("functions", new Neutral("[]", Type.ARRAY, JsonNode::isEmpty, NO_TOOLS)),
      Map.entry("tool_choice", new Neutral("\"none\"", Type.STRING_OR_OBJECT, v -> v.asText().equals("none"), NO_TOOLS)),
      Map.entry("function_call", new Neutral("\"none\"", Type.STRING_OR_OBJECT, v -> v.asText().equals("none"), NO_TOOLS)),
      Map.entry("response_format", new Neutral("{\"type\": \"text\"}", Type.OBJECT, v -> "text".equals(v.path("type").asText()),
          NO_STRUCTURE)),
      Map.entry("modalities", new Neutral("[\"text\"]", Type.ARRAY, v -> v.size() == 1 && "text".equals(v.get(0).asText()),
          TEXT_ONLY)),
      Map.entry("audio", Neutral.none(TEXT_ONLY)),
      Map.entry("prediction", Neutral.none("Tandem does not use predicted outputs")),
      Map.entry("web_search_options", Neutral.none("Tandem does not search the web")),
      Map.entry("verbosity", new Neutral("\"medium\"", Type.STRING, v -> v.asText().equals("medium"),
          "the models write as they were trained to")),
      Map.entry("echo", Neutral.bool(false, "the answer holds the completion only, not the prompt")),
      Map.entry("best_of", Neutral.number(Type.INTEGER, 1, "Tandem generates one sequence per request")),
      Map.entry("suffix", new Neutral("\"\"", Type.STRING, v -> v.asText().isEmpty(), "Tandem does not write text to fit before a suffix")));

  /**
   * Fields accepted and ignored (an implementation could not change the answer), by the type
   * OpenAI's API gives each: a value of another type ({@code "store": "yes"}) is a client's mistake,
   * refused as OpenAI's API and vLLM's pydantic models refuse it; one of the type is ignored whatever
   * it holds ({@code metadata}'s members are not read).
   */
  private static final Map<String, Type> IGNORED = Map.of(
      "parallel_tool_calls", Type.BOOLEAN,
      "store", Type.BOOLEAN,
      "metadata", Type.OBJECT,
      "service_tier", Type.STRING,
      "reasoning_effort", Type.STRING,
      "prompt_cache_key", Type.STRING,
      "prompt_cache_retention", Type.STRING,
      "safety_identifier", Type.STRING);

  /**
   * vLLM's extensions of the request ({@code vllm/entrypoints/openai/protocol.py}, {@code
   * ChatCompletionRequest} and {@code CompletionRequest}) that Tandem does not implement: accepted
   * at the value that asks for nothing, any other value a 400 that says so (rather than calling a
   * field a client wrote for vLLM unrecognized). The ones it implements are read below.
   */
  private static final Map<String, Neutral> VLLM_NEUTRAL = Map.ofEntries(
      Map.entry("use_beam_search", Neutral.bool(false, "Tandem samples; it does not search beams")),
      Map.entry("length_penalty", Neutral.number(Type.NUMBER, 1, "it applies to beam search, which Tandem does not do")),
      Map.entry("priority", Neutral.number(Type.INTEGER, 0, "requests are served in arrival order")),
      Map.entry("guided_json", Neutral.none(NO_STRUCTURE)),
      Map.entry("guided_regex", Neutral.none(Type.STRING, NO_STRUCTURE)),
      Map.entry("guided_choice", Neutral.none(Type.ARRAY, NO_STRUCTURE)),
      Map.entry("guided_grammar", Neutral.none(Type.STRING, NO_STRUCTURE)),
      Map.entry("guided_decoding_backend", Neutral.none(Type.STRING, NO_STRUCTURE)),
      Map.entry("guided_whitespace_pattern", Neutral.none(Type.STRING, NO_STRUCTURE)),
      Map.entry("structural_tag", Neutral.none(Type.STRING, NO_STRUCTURE)),
      Map.entry("structured_outputs", Neutral.none(Type.OBJECT, NO_STRUCTURE)),
      Map.entry("allowed_token_ids", Neutral.none(Type.ARRAY, "Tandem does not restrict the vocabulary")),
      Map.entry("bad_words", new Neutral("[]", Type.ARRAY, JsonNode::isEmpty, "Tandem does not ban words from the output")),
      Map.entry("logits_processors", Neutral.none(Type.ARRAY, "Tandem runs no logits processors of a request's")),
      Map.entry("prompt_logprobs", Neutral.none(Type.INTEGER, NO_LOGPROBS)),
      Map.entry("return_tokens_as_token_ids", Neutral.bool(false, NO_LOGPROBS)),
      Map.entry("truncate_prompt_tokens", Neutral.none(Type.INTEGER, "prompts are not truncated; send a shorter one")),
      Map.entry("spaces_between_special_tokens", Neutral.bool(true, "special tokens are left out of the text")),
      Map.entry("add_special_tokens", Neutral.bool(false,
          "the chat template writes the special tokens a chat prompt needs; true is taken on /v1/completions")),
      Map.entry("chat_template", Neutral.none(Type.STRING, "each model renders messages with its own chat template")),
      Map.entry("documents", Neutral.none(Type.ARRAY, "the chat template is given messages and tools only")),
      Map.entry("mm_processor_kwargs", Neutral.none(Type.OBJECT, "Tandem reads text only")),
      Map.entry("prompt_embeds", Neutral.none("Tandem reads text or token ids only")),
      Map.entry("kv_transfer_params", Neutral.none(Type.OBJECT, "Tandem does not move KV caches between servers")),
      Map.entry("include_reasoning", Neutral.bool(true, "reasoning_content is always included where the reasoning parser finds it")),
      Map.entry("vllm_xargs", Neutral.none(Type.OBJECT, "vLLM's extra arguments are not supported")));

  /**
   * Where {@code /v1/completions} reads a field otherwise than chat: its {@code logprobs} is an
   * integer (OpenAI's legacy Completions API: the number of most likely tokens to return at each
   * position, at most 5; 0 still returns the sampled token's), chat's a boolean beside {@code
   * top_logprobs}. {@code false} is accepted there too: it asks for nothing, and clients written for
   * chat send it.
   */
  private static final Map<String, Neutral> COMPLETIONS_NEUTRAL = Map.of(
      "logprobs", new Neutral("null (or false)", new Type(Type.INTEGER.name(), v -> JsonInteger.is(v) || v.isBoolean()),
          v -> v.isBoolean() && !v.asBoolean(), NO_LOGPROBS + "; on /v1/completions this field is an integer, and even 0"
          + " asks for the sampled token's"));

  private static final Set<String> COMMON = Set.of("model", "max_tokens", "temperature", "top_p", "top_k", "seed",
      "stop", "stream", "stream_options", "user", "n", "logprobs", "presence_penalty",
      "frequency_penalty", "repetition_penalty", "min_p", "min_tokens", "ignore_eos", "include_stop_str_in_output",
      "no_stop_trim", "return_token_ids", "skip_special_tokens", "logit_bias", "tandem", "store", "metadata", "service_tier",
      "request_id", "stop_token_ids", "cache_salt", "echo", "best_of", "prompt_cache_key", "prompt_cache_retention", "safety_identifier",
      // vLLM's CompletionRequest has it too (tester49a: called chat's alone on /v1/completions).
      "response_format");
  // top_logprobs and parallel_tool_calls are chat's in OpenAI's API and vLLM's (tester59a: taken on /v1/completions).
  private static final Set<String> CHAT_ONLY = Set.of("messages", "max_completion_tokens", "tools", "tool_choice", "top_logprobs",
      "parallel_tool_calls",
      "functions", "function_call", "reasoning_effort", "modalities", "audio", "prediction",
      "web_search_options", "add_generation_prompt", "continue_final_message", "chat_template_kwargs", "verbosity");
  /**
   * {@code add_special_tokens} is vLLM's on both endpoints, with their own defaults: a completion's
   * text prompt gets the tokenizer's special tokens (true, {@code CompletionRequest}), chat messages
   * none (false, {@code ChatCompletionRequest}: the template writes them), and Tandem takes only that.
   */
  private static final Set<String> COMPLETIONS_ONLY = Set.of("prompt", "suffix", "add_special_tokens");

  /**
   * Fields that OpenAI-compatible servers write on assistant messages: a client that sends a
   * response's message back (the SDKs' multi-turn pattern) sends them too. Accepted and ignored
   * while they carry nothing to act on ({@code tool_calls} and {@code function_call} with a call
   * are a 400: tool calls are not supported); a {@code refusal} string is the message's text.
   */
  private static final Set<String> MESSAGE_ECHOES = Set.of("reasoning_content", "reasoning", "refusal", "annotations",
      "audio", "tool_calls", "function_call");

  /**
   * The message roles accepted, as OpenAI's Chat Completions API names them (tool and function
   * messages excepted): {@code developer} is OpenAI's name for a system message for its newer
   * models, and the chat template receives it as {@code system}.
   */
  /**
   * What a request for an unserved {@code model} most likely meant: a served name in other letter
   * case (model names are matched exactly, as vLLM matches them), or one of {@code tandem.mode}'s
   * values, the pair's own names for its models; empty when nothing is near.
   */
  private static String modelHint(String model, JsonNode body, List<String> served) {
    for (String name : served)
      if (name.equalsIgnoreCase(model)) return "; model names are matched exactly: send \"model\": \"" + clip(name) + "\"";
    if (!isMode(model)) return "";
    String first = clip(served.get(0));
    if (model.equalsIgnoreCase("speculative"))
      return "; the pair writing together (speculative, the default mode) is served as " + first + ": send \"model\": \""
          + first + "\" or leave model out";
    return body.path("tandem").hasNonNull("mode") ? "; which of the pair's models answers is tandem.mode, given here: leave model out"
        : "; to have one of the pair's models answer alone, send \"tandem\": {\"mode\": \"" + model.toLowerCase(java.util.Locale.ROOT)
            + "\"} and leave model out";
  }

  private static final String ROLES = "system, developer (taken as system), user or assistant";

  /**
   * The facts about the served models that validation needs, and {@code sampling}: what a request
   * that leaves out temperature, top_k, top_p or seed gets of each.
   */
  public record Limits(List<String> modelNames, int maxMaxTokens, SpeculativeConfig base, Mode defaultMode,
      SamplingParams sampling) {
    public Limits(List<String> modelNames, int maxMaxTokens, SpeculativeConfig base, Mode defaultMode) {
      this(modelNames, maxMaxTokens, base, defaultMode, SamplingParams.PAPER);
    }
  }

  /** Whether code point {@code c} shows as nothing, or as a plain space: a control, format (U+200B, U+FEFF) or non-ASCII space. */
  private static boolean invisible(int c) {
    int type = Character.getType(c);
    return Character.isISOControl(c) || type == Character.FORMAT || c != ' ' && Character.isSpaceChar(c);
  }

  /** Whether {@code name} is a mode's, in any case ({@code Small}). */
  private static boolean isMode(String name) {
    return java.util.Arrays.stream(Mode.values()).anyMatch(x -> x.name().equalsIgnoreCase(name));
  }

  /**
   * Fields of other APIs that clients carry over, with where their meaning goes here: Hugging Face's
   * {@code generate()} ({@code max_new_tokens}, {@code max_length}), Anthropic's Messages API and
   * TGI ({@code stop_sequences}, {@code system}), and the OpenAI Python SDK's {@code extra_body}
   * argument, whose members the SDK sends at the top level.
   */
  private static final Map<String, String> OTHER_APIS = Map.of(
      "max_new_tokens", "did you mean max_tokens? max_new_tokens is Hugging Face's name",
      "max_length", "did you mean max_tokens? it counts the tokens written, not the prompt's",
      "stop_sequences", "did you mean stop? it takes a string or a list of strings",
      "system", "a system prompt is the first message: {\"role\": \"system\", \"content\": ...} in messages",
      "extra_body", "extra_body is the OpenAI Python SDK's argument, whose members it sends at the top level of the request;"
          + " send them there, beside the other fields (\"tandem\": {...} too)");

  /**
   * The hint for an unknown top-level field {@code f}: Tandem's own setting it names ({@code mode},
   * {@code max_target_tokens}, or one a letter or two away, as {@code timeout} from {@code time_out}),
   * which goes in the {@code tandem} object; otherwise the nearest request field; both when both are
   * near ({@code modes}: {@code model} or {@code tandem.mode}); empty when none is.
   */
  private static String nearestField(String f, boolean chat) {
    String other = OTHER_APIS.get(f);
    if (other != null) return " (" + (chat || !f.equals("system") ? other : "a system prompt belongs to /v1/chat/completions'"
        + " messages") + ")";
    // Sorted, so that a tie is settled the same way on every run (Set.of's order is not).
    java.util.TreeSet<String> fields = new java.util.TreeSet<>(COMMON);
    fields.addAll(chat ? CHAT_ONLY : COMPLETIONS_ONLY);
    List<String> settings = new ArrayList<>(List.of("mode"));
    settings.addAll(SpeculativeConfig.keyNames());
    // A setting flattened into its name ("tandem_mode", "tandem.mode": a client that builds the body from a flat map).
    String inName = f.length() > "tandem".length() && f.regionMatches(true, 0, "tandem", 0, "tandem".length())
        ? KeySuggestions.nearest(f.substring("tandem".length()).replaceFirst("^[._-]", ""), settings) : null;
    // "tandem.max_target_tokens" as one name: the suggestion would read as what was sent.
    if (inName != null && f.equals("tandem." + inName))
      return " (" + f + " is written nested: Tandem's own settings go in the tandem object, \"tandem\": {\"" + inName + "\": ...})";
    String setting = inName != null ? inName : KeySuggestions.nearest(f, settings);
    String field = settings.stream().anyMatch(f::equalsIgnoreCase) ? null : KeySuggestions.nearest(f, fields);
    String tandem = setting == null ? null : "tandem." + setting + "? Tandem's own settings go in the tandem object: \"tandem\": {\""
        + setting + "\": ...}";
    if (tandem != null) return field == null ? " (did you mean " + tandem + ")" : " (did you mean " + field + ", or " + tandem + ")";
    return field == null ? "" : " (did you mean " + field + "?)";
  }

  /**
   * Reads and validates {@code body}.
   *
   * @throws ApiError 400 for a field that is wrong or asks for what Tandem does not do (the error's
   *     {@code param} names it), 404 {@code model_not_found} for a model this server does not serve
   */
  public static CompletionRequest parse(ObjectNode body, boolean chat, Limits limits) {
    String endpoint = chat ? "/v1/chat/completions" : "/v1/completions";
    for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!COMMON.contains(f) && !(chat ? CHAT_ONLY : COMPLETIONS_ONLY).contains(f) && !VLLM_NEUTRAL.containsKey(f)) {
        String hint = (chat ? COMPLETIONS_ONLY : CHAT_ONLY).contains(f)
            ? " (it belongs to " + (chat ? "/v1/completions" : "/v1/chat/completions") + ")" : "";
        if (hint.isEmpty()) hint = nearestField(f, chat);
        // A name with an invisible character pasted in (U+200B) would read as a known one: shown, and named.
        String bare = f.codePoints().filter(c -> !invisible(c)).collect(StringBuilder::new, StringBuilder::appendCodePoint,
            StringBuilder::append).toString();
        if (!bare.equals(f)) {
          int first = f.codePoints().filter(CompletionRequest::invisible).findFirst().orElseThrow();
          boolean known = COMMON.contains(bare) || (chat ? CHAT_ONLY : COMPLETIONS_ONLY).contains(bare);
          hint = String.format(" (it holds U+%04X, an invisible character%s)", first, known ? ": remove it" : "")
              + (known ? "" : nearestField(bare, chat));
          String shown = f.codePoints().mapToObj(c -> invisible(c) ? String.format("<U+%04X>", c) : Character.toString(c))
              .collect(java.util.stream.Collectors.joining());
          throw ApiError.invalid(clip(f), "unrecognized request argument supplied to " + endpoint + ": " + clip(shown) + hint);
        }
        throw ApiError.invalid(clip(f), "unrecognized request argument supplied to " + endpoint + ": " + clip(f) + hint);
      }
      JsonNode v = body.get(f);
      Neutral n = chat || !COMPLETIONS_NEUTRAL.containsKey(f) ? NEUTRAL.get(f) : COMPLETIONS_NEUTRAL.get(f);
      Neutral vllm = chat || !COMPLETIONS_ONLY.contains(f) ? VLLM_NEUTRAL.get(f) : null;
      if (v.isNull()) continue;
      if (IGNORED.containsKey(f)) requireType(f, v, IGNORED.get(f));
      // A number beyond a double's range inside a value quoted below would be shown as "Infinity".
      if (n != null || vllm != null) Json.requireInRange(v, f);
      // n below 1 asks for no choice at all: out of range (vLLM: "n must be at least 1"), not a feature missing.
      if (f.equals("n") && v.isNumber() && v.asDouble() < 1)
        throw ApiError.invalid(f, "n must be at least 1, got " + clip(v.toString()));
      // Beside tools, tool_choice can be left out only with them (offeredTools): "leave it out" alone was advice refused in
      // its turn (tester47b).
      boolean withTools = f.equals("tool_choice") && tools(body.get("tools")) != null;
      if (n != null && !neutral(f, v, n))
        throw ApiError.unsupported(f, f + " = " + clip(v.toString()) + " is not supported (" + n.why() + "); " + (withTools
            ? "send \"none\" (a request with tools needs it), or leave tools and tool_choice out"
            : "leave it out or send " + n.neutral()));
      if (vllm != null && !neutral(f, v, vllm))
        throw ApiError.unsupported(f, f + " is one of vLLM's extensions that Tandem does not support (" + vllm.why()
            + "); leave it out" + (vllm.neutral().equals("null") ? "" : " or send " + vllm.neutral()));
    }

    String model = string(body, "model", false);
    // Absent, null or empty: the first served name, as vLLM (OpenAIServing._is_model_supported takes an empty name).
    if (model == null || model.isEmpty()) model = limits.modelNames().get(0);
    if (!limits.modelNames().contains(model))
      throw ApiError.notFound("model", "model_not_found", "the model '" + clip(model) + "' does not exist; this server serves "
          + String.join(", ", limits.modelNames()) + " (see GET /v1/models)" + modelHint(model, body, limits.modelNames()));


    Prompt prompt = null;
    List<Integer> tokenIds = null;
    if (chat) {
      prompt = chatPrompt(body, offeredTools(body));
    } else {
      JsonNode p = body.get("prompt");
      tokenIds = tokenPrompt(p);
      Boolean specials = bool(body, "add_special_tokens");
      if (tokenIds == null) prompt = Prompt.raw(rawPrompt(p, specials == null || specials), specials == null || specials);
    }

    Integer maxTokens = maxTokens(body, "max_tokens", limits.maxMaxTokens());
    if (chat) {
      Integer mct = maxTokens(body, "max_completion_tokens", limits.maxMaxTokens());
      if (mct != null && maxTokens != null && !mct.equals(maxTokens))
        throw ApiError.invalid("max_completion_tokens", "max_tokens (" + maxTokens + ") and max_completion_tokens ("
            + mct + ") disagree; give one of them");
      if (mct != null) maxTokens = mct;
    }

    SamplingParams d = limits.sampling();
    Double temperature = number(body, "temperature", 0, 2);
    Double topP = number(body, "top_p", Double.MIN_VALUE, 1);
    Integer topK = topK(body);
    Long seed = null;
    JsonNode s = body.get("seed");
    if (s != null && !s.isNull()) {
      if (Json.beyondDouble(s)) throw Json.outOfRange("seed");
      seed = JsonInteger.asLong(s);
      if (seed == null)
        throw ApiError.invalid("seed", "seed must be an integer between -2^63 and 2^63-1, got "
            + (s.isNumber() ? clip(JsonInteger.show(s)) : Json.kind(s)));
    }
    SamplingParams sampling = new SamplingParams(
        temperature != null ? temperature : d.temperature(),
        topK != null ? topK : d.topK(),
        topP != null ? topP : d.topP(),
        seed != null ? seed : d.seed());

    List<String> stop = stop(body.get("stop"));
    Boolean stream = bool(body, "stream");
    boolean includeUsage = false;
    JsonNode so = body.get("stream_options");
    // An empty object asks for nothing: vLLM accepts it without stream (its check is Python's truth).
    if (so != null && !so.isNull() && !(so.isObject() && so.isEmpty())) {
      if (stream == null || !stream)
        throw ApiError.invalid("stream_options", "stream_options is only allowed when stream is true");
      if (!so.isObject()) throw ApiError.invalid("stream_options", "stream_options must be an object, got " + Json.kind(so));
      for (Iterator<String> it = so.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!f.equals("include_usage") && !f.equals("continuous_usage_stats") && !f.equals("include_obfuscation"))
          throw ApiError.invalid("stream_options." + clip(f), "unrecognized field in stream_options: " + clip(f)
              + " (include_usage is supported, and continuous_usage_stats and include_obfuscation false)");
      }
      Boolean iu = bool((ObjectNode) so, "include_usage", "stream_options.");
      includeUsage = iu != null && iu;
      // vLLM's: usage on every chunk. Not implemented, so only its do-nothing value is accepted.
      Boolean cus = bool((ObjectNode) so, "continuous_usage_stats", "stream_options.");
      if (cus != null && cus)
        throw ApiError.unsupported("stream_options.continuous_usage_stats", "stream_options.continuous_usage_stats = true"
            + " is not supported (usage comes on the last chunk, with include_usage); leave it out or send false");
      // OpenAI's: random padding on each chunk against length side channels. Not written, so only
      // false is accepted (OpenAI's default is true, but a client that leaves it out asks nothing).
      Boolean obf = bool((ObjectNode) so, "include_obfuscation", "stream_options.");
      if (obf != null && obf)
        throw ApiError.unsupported("stream_options.include_obfuscation", "stream_options.include_obfuscation = true"
            + " is not supported (chunks carry no obfuscation padding); leave it out or send false");
    }
    String user = string(body, "user", false);

    Mode mode = limits.defaultMode();
    SpeculativeConfig config = limits.base();
    JsonNode t = body.get("tandem");
    if (t != null && !t.isNull()) {
      if (!t.isObject())
        throw ApiError.invalid("tandem", "tandem must be an object such as {\"mode\": \"small\", \"max_target_tokens\": 30}, got " + Json.kind(t));
      ObjectNode overrides = ((ObjectNode) t).deepCopy();
      // A null is the server's setting, as at the top level (temperature: null), where null is no value of the key's own
      // (help_think_word and time_out take null for none) (tester59a: mode: null was taken, max_target_tokens: null refused).
      List<String> unset = new ArrayList<>();
      overrides.fieldNames().forEachRemaining(k -> {
        if (overrides.get(k).isNull() && SpeculativeConfig.keyNames().contains(k) && !SpeculativeConfig.takesNull(k)) unset.add(k);
      });
      overrides.remove(unset);
      // The same one level down, in the keyword groups, which a request may give some of (tester59f).
      if (overrides.get("TARGET_VALIDATION_KEYWORDS") instanceof ObjectNode groups) {
        List<String> nulls = new ArrayList<>();
        groups.fieldNames().forEachRemaining(k -> {
          if (groups.get(k).isNull()) nulls.add(k);
        });
        groups.remove(nulls);
      }
      JsonNode m = overrides.remove("mode");
      if (m != null && !m.isNull()) {
        if (!m.isTextual())
          throw ApiError.invalid("tandem.mode", "tandem.mode must be a string: speculative, small or large; got " + given(m));
        try {
          mode = Mode.valueOf(m.asText());
        } catch (IllegalArgumentException e) {
          boolean otherCase = isMode(m.asText());
          throw ApiError.invalid("tandem.mode", "tandem.mode is '" + clip(m.asText()) + "'; it must be speculative, small or large"
              + (otherCase ? ", in lower case" : ""));
        }
      }
      for (Iterator<String> it = overrides.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        // tandem.model: "small" means the mode; the top-level model names the served model (a 404 for "small").
        if (k.equals("model") && !t.hasNonNull("mode") && overrides.get(k).isTextual() && isMode(overrides.get(k).asText()))
          throw ApiError.invalid("tandem.model", "tandem.model: did you mean tandem.mode? It chooses speculative, small or large;"
              + " model, at the top level, names the served model");
        // tandem.model beside tandem.mode: the mode already says which model answers; the served name is another thing.
        if (k.equals("model") && t.hasNonNull("mode"))
          throw ApiError.invalid("tandem.model", "tandem.model: which model answers is tandem.mode, given here; the served"
              + " model's name (GET /v1/models) is the top-level model, which may be left out: remove tandem.model");
        // Another API's field put in Tandem's object (tandem.max_new_tokens): its counterpart, at the top level.
        if (OTHER_APIS.containsKey(k))
          throw ApiError.invalid("tandem." + k, "tandem." + k + ": not one of Tandem's settings, nor a request field: "
              + OTHER_APIS.get(k) + " (request fields go at the top level of the request)");
        // A request field put in Tandem's object (tandem.max_tokens): say where it goes, not list the paper's keys.
        if (!SpeculativeConfig.keyNames().contains(k) && (COMMON.contains(k) || CHAT_ONLY.contains(k)
            || COMPLETIONS_ONLY.contains(k) || VLLM_NEUTRAL.containsKey(k)))
          throw ApiError.invalid("tandem." + clip(k), "tandem." + clip(k) + ": " + k + " is a request field, not one of"
              + " Tandem's settings; put it at the top level of the request"
              + (k.equals("messages") || k.equals("prompt") ? "" : ", beside " + (chat ? "messages" : "prompt")));
      }
      if (overrides.size() > 0) {
        try {
          @SuppressWarnings("unchecked")
          Map<String, Object> map = Json.MAPPER.convertValue(overrides, Map.class);
          config = config.withOverrides(map);
        } catch (InvalidConfigException e) {
          String message = stripSource(e.getMessage());
          throw ApiError.invalid(e.key() == null ? "tandem" : "tandem." + clip(e.key()),
              "tandem: " + (e.key() == null ? message : message.replace(e.key(), clip(e.key()))));
        } catch (IllegalArgumentException e) {
          throw ApiError.invalid("tandem", "tandem: " + stripSource(e.getMessage()));
        }
      }
    }
    return new CompletionRequest(chat, model, prompt, tokenIds, tokenIds == null ? null : tokenPromptPath(body.get("prompt")),
        maxTokens, sampling, stop, stream != null && stream,
        includeUsage, user, mode, config, engineFields(body), requestId(body));
  }

  /**
   * vLLM's {@code request_id}: the response's {@code id} is {@code chatcmpl-} or {@code cmpl-} and it
   * (as vLLM names it), and the request log shows it; {@link #isRequestId}.
   */
  private static String requestId(ObjectNode body) {
    String id = string(body, "request_id", false);
    if (id != null && !isRequestId(id))
      throw ApiError.invalid("request_id", "request_id must be 1 to " + MAX_REQUEST_ID + " visible ASCII characters"
          + " (! to ~: no spaces, control or non-ASCII characters), got " + (id.isEmpty() ? "an empty string" : clip(id)));
    return id;
  }

  /**
   * Whether {@code id} can name a response: 1 to {@link #MAX_REQUEST_ID} visible ASCII characters
   * (0x21 to 0x7E), as the response's {@code X-Request-Id} header, the log and a client's grep take
   * it unchanged (akka-http writes a header's chars one byte each: a non-ASCII char would come back
   * as another byte, a CR or LF among them).
   */
  static boolean isRequestId(String id) {
    return !id.isEmpty() && id.length() <= MAX_REQUEST_ID && id.chars().allMatch(c -> c != ' ' && printableAscii(c));
  }

  /** Whether {@code c} is printable ASCII, 0x20 (space) to 0x7E ({@code ~}): what an HTTP header may carry as it is. */
  static boolean printableAscii(int c) {
    return c >= 0x20 && c <= 0x7e;
  }

  /**
   * This request named {@code id} instead of its body's {@code request_id}: vLLM names a response by
   * the {@code X-Request-Id} header first ({@code OpenAIServing._base_request_id}).
   */
  CompletionRequest namedBy(String id) {
    return new CompletionRequest(chat, model, prompt, promptTokenIds, promptTokenIdsPath, maxTokens, sampling, stop, stream,
        includeUsage, user, mode, config, engine, id);
  }

  /**
   * The tools of a request that switches tool calls off: OpenAI's API and vLLM accept {@code tools}
   * with {@code tool_choice: "none"} (the model must not call them), and vLLM renders them into the
   * chat template all the same (unless {@code --exclude-tools-when-tool-choice-none}); so does
   * Tandem. Without {@code "none"} a request with tools may get a tool call back, which Tandem does
   * not parse: a 400. Null when the request has no tools.
   */
  private static JsonNode offeredTools(ObjectNode body) {
    JsonNode tools = tools(body.get("tools"));
    JsonNode choice = body.get("tool_choice");
    if (tools != null && (choice == null || !choice.isTextual() || !choice.asText().equals("none")))
      throw ApiError.unsupported("tools", "tools are supported only with tool_choice \"none\" (Tandem does not call tools; the"
          + " chat template is shown them, as vLLM does); send tool_choice: \"none\" or leave tools out");
    return tools;
  }

  /**
   * {@code tools} as the chat template receives them (OpenAI's function tools); null when absent or
   * empty.
   *
   * @throws ApiError 400 for anything but a list of {@code {"type": "function", "function": {"name": ...}}}
   */
  static JsonNode tools(JsonNode tools) {
    if (tools == null || tools.isNull() || (tools.isArray() && tools.isEmpty())) return null;
    if (!tools.isArray()) throw ApiError.invalid("tools", "tools must be an array of {\"type\": \"function\", \"function\": {...}}, got "
        + Json.kind(tools));
    for (int i = 0; i < tools.size(); i++) {
      JsonNode t = tools.get(i);
      if (!t.isObject() || !"function".equals(t.path("type").asText()) || !t.path("function").path("name").isTextual())
        throw ApiError.invalid("tools[" + i + "]", "tools[" + i + "] must be {\"type\": \"function\", \"function\": {\"name\": ...,"
            + " \"description\": ..., \"parameters\": {...}}}");
    }
    Json.requireInRange(tools, "tools");
    return tools;
  }

  /**
   * The request's {@code messages} rendered as its fields say ({@link #chatTemplateArgs}).
   *
   * @throws ApiError 400 as those do, and naming {@code messages} when {@code continue_final_message}
   *     is asked of a final message with no text: there is nothing to continue, and Hugging Face's
   *     {@code apply_chat_template} then cuts nothing, leaving the end of its turn in the prompt
   */
  static Prompt chatPrompt(ObjectNode body, JsonNode tools) {
    List<ChatMessage> messages = messages(body.get("messages"));
    ChatTemplateArgs args = chatTemplateArgs(body, tools);
    if (args.continueFinalMessage() && !messages.isEmpty() && messages.get(messages.size() - 1).content().isBlank())
      throw ApiError.invalid("messages[" + (messages.size() - 1) + "].content", "messages[" + (messages.size() - 1) + "] is empty (or only whitespace) and"
          + " continue_final_message is set, so there is nothing to continue; give it the text to continue, or leave"
          + " continue_final_message out");
    return Prompt.chat(messages, args);
  }

  /**
   * How chat messages are rendered, from vLLM's fields: {@code add_generation_prompt} (default true),
   * {@code continue_final_message} (default false, not with the former, as in vLLM and Hugging Face),
   * {@code chat_template_kwargs} (further template variables, e.g. {@code {"enable_thinking":
   * false}} for Qwen3's template), and {@code tools}. A template variable that a request field sets
   * is refused in {@code chat_template_kwargs}, so that one thing is said in one place.
   *
   * @throws ApiError 400 naming the field
   */
  static ChatTemplateArgs chatTemplateArgs(ObjectNode body, JsonNode tools) {
    Boolean add = bool(body, "add_generation_prompt");
    Boolean cont = bool(body, "continue_final_message");
    boolean addGenerationPrompt = add == null || add;
    boolean continueFinal = cont != null && cont;
    if (addGenerationPrompt && continueFinal)
      throw ApiError.invalid("continue_final_message", "continue_final_message and add_generation_prompt cannot both be"
          + " true (add_generation_prompt is true unless sent false); send add_generation_prompt: false with it");
    ObjectNode variables = Json.MAPPER.createObjectNode();
    JsonNode kw = body.get("chat_template_kwargs");
    if (kw != null && !kw.isNull()) {
      if (!kw.isObject())
        throw ApiError.invalid("chat_template_kwargs", "chat_template_kwargs must be an object such as {\"enable_thinking\":"
            + " false}, got " + Json.kind(kw));
      for (Iterator<String> it = kw.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (RESERVED_TEMPLATE_VARIABLES.contains(k))
          throw ApiError.invalid("chat_template_kwargs." + k, "chat_template_kwargs." + k + ": "
              + (k.equals("messages") ? "the messages are the request's messages" : "give it as the request field " + k));
        variables.set(k, kw.get(k));
      }
      Json.requireInRange(kw, "chat_template_kwargs");
    }
    if (tools != null) variables.set("tools", tools);
    return new ChatTemplateArgs(addGenerationPrompt, continueFinal, variables.toString());
  }

  private static EngineFields engineFields(ObjectNode body) {
    Boolean include = bool(body, "include_stop_str_in_output");
    Boolean noTrim = bool(body, "no_stop_trim");
    if (include != null && noTrim != null && !include.equals(noTrim))
      throw ApiError.invalid("no_stop_trim", "include_stop_str_in_output (" + include + ") and no_stop_trim (" + noTrim
          + ") disagree; give one of them");
    Boolean ids = bool(body, "return_token_ids");
    Boolean skip = bool(body, "skip_special_tokens");
    boolean returnIds = ids != null && ids;
    if (skip != null && !skip && !returnIds)
      throw ApiError.unsupported("skip_special_tokens", "skip_special_tokens = false is supported only with "
          + "return_token_ids = true (the ids carry the special tokens; their text is not written)");
    String salt = string(body, "cache_salt", false);
    // vLLM's rule (protocol.py, check_cache_salt_support).
    if (salt != null && salt.isEmpty())
      throw ApiError.invalid("cache_salt", "cache_salt must be a non-empty string if given; leave it out, or send null,"
          + " to share the prefix cache with the other requests of this API key's tenant");
    return new EngineFields(include != null ? include : noTrim != null && noTrim, returnIds, stopTokenIds(body.get("stop_token_ids")),
        salt);
  }

  private static List<Integer> stopTokenIds(JsonNode ids) {
    if (ids == null || ids.isNull()) return List.of();
    if (!ids.isArray()) throw ApiError.invalid("stop_token_ids", "stop_token_ids must be a list of token ids, got " + Json.kind(ids));
    return tokenIds(ids, "stop_token_ids", TOKEN_IDS);
  }

  /**
   * The range of a token id, before the vocabulary of the model that reads it is known: the
   * worker's refusal names its size.
   */
  static final String ID_RANGE = "integers 0 or more, below the model's vocabulary size";

  /** How a list of token ids is described when one of its elements is not a token id. */
  static final String TOKEN_IDS = "token ids are";

  /**
   * The token ids of the array {@code ids}, named {@code path} (e.g. {@code prompt[0]}): each an
   * integer ({@link JsonInteger}: 7 or 7.0) from 0 to 2^31-1.
   *
   * @throws ApiError 400 {@code PATH[I] is VALUE: WHAT} {@link #ID_RANGE}, its {@code
   *     param} {@code PATH[I]}
   */
  static List<Integer> tokenIds(JsonNode ids, String path, String what) {
    return tokenIds(ids, path, what, null);
  }

  /**
   * As {@link #tokenIds(JsonNode, String, String)}, except that an integer below 0 or above
   * 2^31-1, when {@code outOfRange} is given, is not refused here but put there (its index to its
   * value as written) and read as -1, which the worker refuses with its vocabulary's size: only then
   * is the range of ids known.
   */
  static List<Integer> tokenIds(JsonNode ids, String path, String what, Map<Integer, String> outOfRange) {
    List<Integer> out = new ArrayList<>(ids.size());
    for (int i = 0; i < ids.size(); i++) {
      String element = path + "[" + i + "]";
      if (Json.beyondDouble(ids.get(i))) throw Json.outOfRange(element);
      Integer id = JsonInteger.asInt(ids.get(i));
      if (outOfRange != null && JsonInteger.is(ids.get(i)) && (id == null || id < 0)) {
        outOfRange.put(i, clip(JsonInteger.show(ids.get(i))));
        id = -1;
      }
      if (id == null || (id < 0 && outOfRange == null))
        throw ApiError.invalid(element, element + " is " + clip(JsonInteger.show(ids.get(i))) + ": " + what + " " + ID_RANGE);
      out.add(id);
    }
    return List.copyOf(out);
  }

  /**
   * The {@code param} of a worker's refusal of the token ids a client sent in {@code field} ({@code
   * prompt}, {@code tokens}): the element the worker's message names, the first id outside a
   * vocabulary of {@code vocabSize} tokens ({@code prompt[1]}), as OpenAI's API names an element at
   * fault; {@code field} itself when none is (a model that cannot read the prompt at all).
   */
  static String tokenIdsParam(String field, List<Integer> ids, int vocabSize) {
    if (ids != null)
      for (int i = 0; i < ids.size(); i++)
        if (ids.get(i) < 0 || (vocabSize > 0 && ids.get(i) >= vocabSize)) return field + "[" + i + "]";
    return field;
  }

  /**
   * Refuses {@code stop_token_ids} outside the vocabulary of the model that read the prompt, {@code
   * vocabSize} tokens (0: a model without a fixed vocabulary, nothing to check), as the worker
   * refuses such a token id in a prompt (vLLM refuses out-of-vocabulary ids in a prompt likewise):
   * an id the model cannot write would never stop the output.
   *
   * @throws ApiError 400 naming the first element outside it ({@code stop_token_ids[1]}, also its
   *     {@code param}), its id and the vocabulary's size
   */
  void checkStopTokenIds(int vocabSize) {
    List<Integer> ids = engine.stopTokenIds();
    for (int i = 0; vocabSize > 0 && i < ids.size(); i++) {
      String element = "stop_token_ids[" + i + "]";
      if (ids.get(i) >= vocabSize)
        throw ApiError.invalid(element, element + " is token id " + ids.get(i) + ", outside the model's vocabulary of "
            + vocabSize + " tokens (ids 0 to " + (vocabSize - 1) + ")");
    }
  }

  /**
   * The number of tokens to generate for a prompt of {@code promptTokens} tokens when the smallest
   * context of the models the request uses is {@code contextLength}: {@code max_tokens} when it
   * fits, else a 400 in vLLM's words; without {@code max_tokens}, {@code defaultMaxTokens} (on
   * {@code /v1/completions} at most {@link #COMPLETIONS_DEFAULT_MAX_TOKENS}) capped to what fits (the generation then ends with {@code finish_reason: "length"} at the context).
   *
   * @throws ApiError 400 {@code context_length_exceeded} naming the numbers
   */
  int maxTokensWithin(int promptTokens, int contextLength, int defaultMaxTokens) {
    String what = chat ? "messages" : "prompt";
    if (maxTokens != null && (long) promptTokens + maxTokens > contextLength)
      throw new ApiError(400, "invalid_request_error", what, "context_length_exceeded", "This model's maximum context length is "
          + contextLength + " tokens. However, you requested " + ((long) promptTokens + maxTokens) + " tokens (" + promptTokens
          + " in the " + what + ", " + maxTokens + " in the completion). Please reduce the length of the " + what
          + " or completion.", 0);
    if (promptTokens >= contextLength)
      throw new ApiError(400, "invalid_request_error", what, "context_length_exceeded", "This model's maximum context length is "
          + contextLength + " tokens. However, your " + what + " resulted in " + promptTokens + " tokens. Please reduce the"
          + " length of the " + what + ".", 0);
    int byDefault = chat ? defaultMaxTokens : Math.min(defaultMaxTokens, COMPLETIONS_DEFAULT_MAX_TOKENS);
    return maxTokens != null ? maxTokens : Math.min(byDefault, contextLength - promptTokens);
  }

  /**
   * Whether {@code v} (not null) of the field {@code f} is {@code n}'s neutral value.
   *
   * @throws ApiError 400 {@code invalid_request_error} when {@code v} is not of the type {@code f} takes
   */
  private static boolean neutral(String f, JsonNode v, Neutral n) {
    requireType(f, v, n.type());
    return n.isNeutral().test(v);
  }

  /**
   * Refuses {@code v} (not null), the value of the field named {@code f}, unless it is of {@code
   * type}; a number beyond a double's range ({@code 1e400}) is of a type that takes numbers, and out
   * of its range.
   *
   * @throws ApiError 400 {@code F must be TYPE, got KIND (VALUE)}, e.g. {@code best_of must be an integer, got a string ("1")}
   */
  private static void requireType(String f, JsonNode v, Type type) {
    if (Json.beyondDouble(v) && type.takesNumbers()) throw Json.outOfRange(f);
    if (!type.is().test(v)) throw ApiError.invalid(f, f + " must be " + type.name() + ", got " + given(v));
  }

  /** A value as a refusal shows what was given: its kind, and a plain value itself ({@code an integer (1)}). */
  private static String given(JsonNode v) {
    if (Json.beyondDouble(v)) return JsonInteger.show(v);
    return Json.kind(v) + (v.isValueNode() ? " (" + clip(v.toString()) + ")" : "");
  }

  private static String stripSource(String m) {
    return m != null && m.startsWith("request: ") ? m.substring("request: ".length()) : String.valueOf(m);
  }

  static List<ChatMessage> messages(JsonNode m) {
    if (m == null || m.isNull()) throw ApiError.invalid("messages", "messages is required: a non-empty array of {\"role\", \"content\"}");
    if (!m.isArray()) throw ApiError.invalid("messages", "messages must be an array, got " + Json.kind(m));
    if (m.isEmpty()) throw ApiError.invalid("messages", "messages must not be empty");
    if (m.size() > MAX_MESSAGES) throw ApiError.invalid("messages", "too many messages: " + m.size() + " (at most " + MAX_MESSAGES + ")");
    List<ChatMessage> out = new ArrayList<>();
    for (int i = 0; i < m.size(); i++) {
      String p = "messages[" + i + "]";
      JsonNode msg = m.get(i);
      if (!msg.isObject()) throw ApiError.invalid(p, p + " must be an object with role and content, got " + Json.kind(msg));
      // A tool's answer is refused for its role, before the fields that come with it (tool_call_id).
      JsonNode said = msg.get("role");
      if (said != null && said.isTextual() && (said.asText().equals("tool") || said.asText().equals("function")))
        throw ApiError.unsupported(p + ".role", p + ".role '" + said.asText() + "': tool messages are not supported (the models"
            + " here call no tools); send the conversation as user and assistant text");
      for (Iterator<String> it = msg.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        JsonNode v = msg.get(f);
        boolean empty = v.isNull() || (v.isArray() && v.isEmpty());
        // null or empty is none, as a client that writes every field sends it (vLLM ignores it).
        boolean toolField = f.equals("tool_call_id") || f.equals("tool_calls") || f.equals("function_call");
        if (toolField && empty) continue;
        if (toolField)
          throw ApiError.unsupported(p + "." + f, p + "." + f + ": tool calls are not supported (the models here call no"
              + " tools); send the conversation as user and assistant text");
        if (f.equals("audio") && !v.isNull())
          throw ApiError.unsupported(p + "." + f, p + ".audio: audio messages are not supported");
        if (!f.equals("role") && !f.equals("content") && !f.equals("name") && !MESSAGE_ECHOES.contains(f))
          throw ApiError.invalid(p + "." + clip(f), p + " has an unrecognized field '" + clip(f) + "' (a message has role and content)");
        // A participant's name is a string, as OpenAI's API types it (and as the request's user is checked).
        if (f.equals("name") && !v.isNull() && !v.isTextual())
          throw ApiError.invalid(p + ".name", p + ".name must be a string (the participant's name), got " + given(v));
      }
      JsonNode role = msg.get("role");
      if (role == null || role.isNull())
        throw ApiError.invalid(p + ".role", p + " has no role; give it one of " + ROLES + ", as {\"role\": \"user\", \"content\": ...}");
      if (!role.isTextual())
        throw ApiError.invalid(p + ".role", p + ".role must be a string: " + ROLES + "; got " + given(role));
      String r = role.asText();
      if (r.equals("developer")) r = "system";
      if (!Set.of("system", "user", "assistant").contains(r))
        throw ApiError.invalid(p + ".role", p + ".role is '" + clip(r) + "'; it must be " + ROLES);
      JsonNode content = msg.get("content");
      // As OpenAI's API: only an assistant message may go without content (servers write null
      // beside tool calls, and Tandem beside reasoning_content when the answer is all reasoning).
      if ((content == null || content.isNull()) && !r.equals("assistant"))
        throw ApiError.invalid(p + ".content", p + ".content is " + (content == null ? "missing" : "null") + "; a "
            + role.asText() + " message needs content: a string or an array of text parts");
      String text = content(content, p + ".content", r.equals("assistant"));
      // A response's refusal (OpenAI's API writes it beside content null) sent back is what the
      // assistant said: its text, as a refusal part's is, not an echo to drop.
      JsonNode refusal = msg.get("refusal");
      if (refusal != null && !refusal.isNull()) {
        if (!refusal.isTextual())
          throw ApiError.invalid(p + ".refusal", p + ".refusal must be a string (or null), got " + Json.kind(refusal));
        if (!r.equals("assistant"))
          throw ApiError.invalid(p + ".refusal", p + " is a " + role.asText() + " message with a refusal, which only an"
              + " assistant message may have (as in OpenAI's API); leave it out");
        text = text.isEmpty() ? refusal.asText() : text + "\n" + refusal.asText();
      }
      JsonNode name = msg.get("name");
      out.add(new ChatMessage(r, text, name != null && name.isTextual() ? name.asText() : null,
          r.equals("assistant") ? reasoning(msg) : null));
    }
    return out;
  }

  /**
   * An assistant message's reasoning, as vLLM reads it for the chat template: its {@code reasoning},
   * else its {@code reasoning_content} (the name vLLM's responses used before); null where neither is a string.
   */
  private static String reasoning(JsonNode msg) {
    for (String f : List.of("reasoning", "reasoning_content")) {
      JsonNode v = msg.get(f);
      if (v != null && v.isTextual()) return v.asText();
    }
    return null;
  }

  /**
   * A message's content as text; none (an assistant message's) is empty. Text parts are joined by
   * a newline, as vLLM joins them for a chat template that reads a message's content as a string.
   * An assistant message may also hold refusal parts ({@code {"type": "refusal", "refusal": ...}},
   * as OpenAI's API writes a refusal and takes it back in a conversation): their text is joined as
   * a text part's is, as vLLM's chat parser reads them.
   */
  private static String content(JsonNode c, String p, boolean assistant) {
    if (c == null || c.isNull()) return "";
    if (c.isTextual()) return c.asText();
    if (!c.isArray()) throw ApiError.invalid(p, p + " must be a string or an array of text parts, got " + Json.kind(c));
    StringJoiner joined = new StringJoiner("\n");
    for (int i = 0; i < c.size(); i++) {
      JsonNode part = c.get(i);
      String pp = p + "[" + i + "]";
      if (!part.isObject()) throw ApiError.invalid(pp, pp + " must be an object {\"type\": \"text\", \"text\": ...}");
      JsonNode typeNode = part.path("type");
      if (typeNode.isValueNode() && !typeNode.isNull() && !typeNode.isTextual())
        throw ApiError.invalid(pp + ".type", pp + ".type must be the string \"text\", got " + given(typeNode));
      if (typeNode.isMissingNode() || typeNode.isNull())
        throw ApiError.invalid(pp + ".type", pp + " has no type; a content part is {\"type\": \"text\", \"text\": ...}");
      String type = typeNode.asText("");
      if (type.equals("refusal") && !assistant)
        throw ApiError.invalid(pp + ".type", pp + " is a refusal part, which only an assistant message may hold (as in"
            + " OpenAI's API); give this message text parts");
      if (!type.equals("text") && !type.equals("refusal"))
        throw ApiError.unsupported(pp + ".type", pp + " has type '" + clip(type) + "': only text parts (and, in an"
            + " assistant message, refusal parts) are supported");
      JsonNode text = part.get(type);
      if (text == null || text.isNull())
        throw ApiError.invalid(pp + "." + type, pp + " has no \"" + type + "\"; a content part is {\"type\": \"" + type
            + "\", \"" + type + "\": \"...\"}");
      if (!text.isTextual())
        throw ApiError.invalid(pp + "." + type, pp + "." + type + " must be a string, got " + given(text));
      // As a message's unknown field is (tester52c: cache_control was refused on a message, taken on a part).
      for (Iterator<String> it = part.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!f.equals("type") && !f.equals(type))
          throw ApiError.invalid(pp + "." + clip(f), pp + " has an unrecognized field '" + clip(f) + "' (a " + type
              + " part has type and " + type + ")");
      }
      joined.add(text.asText());
    }
    return joined.toString();
  }

  /**
   * The text of a text prompt; an empty one only with the tokenizer's special tokens ({@code
   * specials}), which may make it a prompt (a BOS), as vLLM reads it: the worker's count decides.
   */
  private static String rawPrompt(JsonNode p, boolean specials) {
    if (p == null || p.isNull()) throw ApiError.invalid("prompt", "prompt is required: a string, or a list of token ids");
    String text;
    if (p.isTextual()) text = p.asText();
    else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) text = p.get(0).asText();
    else if (p.isArray() && p.size() > 1 && p.get(0).isTextual())
      throw batch(p, JsonNode::isTextual, "strings");
    else if (p.isArray() && p.isEmpty()) throw ApiError.invalid("prompt", "prompt must not be empty");
    else throw ApiError.invalid("prompt", "prompt must be a string, a list of token ids, or a list of one such list; got "
        + (p.isArray() ? "an array whose first element is " : "") + Json.kind(p.isArray() ? p.get(0) : p));
    if (text.isEmpty() && !specials)
      throw ApiError.invalid("prompt", "prompt must not be empty (with add_special_tokens = false, an empty text is no tokens);"
          + " give the text to complete");
    return text;
  }

  /**
   * A prompt given as token ids, as OpenAI's API takes it: a list of integers is one tokenized
   * prompt, a list of such lists a batch (of which Tandem takes one). Null when the prompt is text.
   */
  private static List<Integer> tokenPrompt(JsonNode p) {
    if (p == null || !p.isArray() || p.isEmpty()) return null;
    JsonNode ids = p;
    if (p.get(0).isArray()) {
      if (p.size() > 1) throw batch(p, JsonNode::isArray, "lists of token ids");
      ids = p.get(0);
      if (ids.isEmpty()) throw ApiError.invalid("prompt", "prompt must not be empty");
    } else if (!p.get(0).isNumber()) {
      return null;
    }
    return tokenIds(ids, tokenPromptPath(p), "a token-id prompt is a list of token ids,");
  }

  /**
   * The refusal of a batch of prompts: not supported, when each element is a prompt ({@code
   * alike}); else invalid, naming the first element that is not (tester54c: {@code ["a", 1]} was
   * called a batch of 2 prompts).
   */
  private static ApiError batch(JsonNode p, java.util.function.Predicate<JsonNode> alike, String kind) {
    for (int i = 1; i < p.size(); i++)
      if (!alike.test(p.get(i)))
        return ApiError.invalid("prompt[" + i + "]", "prompt[" + i + "] is " + Json.kind(p.get(i)) + " where prompt[0] begins"
            + " a list of " + kind + "; prompt is a string, a list of token ids, or a list of one such");
    return ApiError.unsupported("prompt", "a batch of " + p.size() + " prompts is not supported; send one prompt per request");
  }

  /** Where a token-id prompt's ids are in the body: {@code prompt}, or {@code prompt[0]} for a batch of one. */
  private static String tokenPromptPath(JsonNode p) {
    return p.get(0).isArray() ? "prompt[0]" : "prompt";
  }

  private static List<String> stop(JsonNode s) {
    if (s == null || s.isNull()) return List.of();
    List<String> out = new ArrayList<>();
    if (s.isTextual()) out.add(stopString(s.asText(), "stop"));
    else if (s.isArray()) {
      if (s.size() > MAX_STOP) throw ApiError.invalid("stop", "stop has " + s.size() + " strings; at most " + MAX_STOP + " are allowed (each of at most 256 characters, "
          + MAX_STOP_CHARS + " together)");
      for (int i = 0; i < s.size(); i++) {
        if (!s.get(i).isTextual()) throw ApiError.invalid("stop[" + i + "]", "stop[" + i + "] must be a string, got " + Json.kind(s.get(i)));
        out.add(stopString(s.get(i).asText(), "stop[" + i + "]"));
      }
    } else throw ApiError.invalid("stop", "stop must be a string or an array of strings, got " + Json.kind(s));
    // Each is looked for at every token: together they are bounded as OpenAI's four of 256 characters were.
    int total = out.stream().mapToInt(x -> x.codePointCount(0, x.length())).sum();
    if (total > MAX_STOP_CHARS)
      throw ApiError.invalid("stop", "stop's strings have " + total + " characters together; at most " + MAX_STOP_CHARS
          + " are allowed");
    return List.copyOf(out);
  }

  /** {@code x}, a stop string at {@code path} ({@code stop}, or an element {@code stop[i]}), when it is one Tandem matches. */
  private static String stopString(String x, String path) {
    if (x.isEmpty())
      throw ApiError.invalid(path, path + " is empty: a stop string needs at least one character; give the text to stop at, or"
          + " leave it out");
    int chars = x.codePointCount(0, x.length());
    if (chars > 256) throw ApiError.invalid(path, path + " has " + chars + " characters; a stop string has at most 256");
    return x;
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

  static Boolean bool(ObjectNode body, String f) {
    return bool(body, f, "");
  }

  /** A boolean field of {@code body}, named {@code parent + f} in an error (e.g. {@code stream_options.include_usage}). */
  private static Boolean bool(ObjectNode body, String f, String parent) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    requireType(parent + f, v, Type.BOOLEAN);
    return v.asBoolean();
  }

  /**
   * A count of tokens to generate ({@code max_tokens}, {@code max_completion_tokens}): an integer
   * from 1 to {@code cap}, the server's {@code tandem.http.max-max-tokens}; one above it, however
   * large, is refused naming the cap.
   */
  private static Integer maxTokens(ObjectNode body, String f, int cap) {
    JsonNode v = body.get(f);
    if (v != null && JsonInteger.is(v) && v.decimalValue().compareTo(BigDecimal.valueOf(cap)) > 0)
      throw ApiError.invalid(f, f + " is " + clip(JsonInteger.show(v)) + " but this server generates at most " + cap
          + " tokens per request (its tandem.http.max-max-tokens); ask for fewer");
    return integer(body, f, 1, cap);
  }

  private static Integer integer(ObjectNode body, String f, long min, long max) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    requireType(f, v, Type.INTEGER);
    Long x = JsonInteger.asLong(v);
    if (x == null || x < min || x > max)
      throw ApiError.invalid(f, f + " must be between " + min + " and " + max + ", got " + clip(JsonInteger.show(v)));
    return x.intValue();
  }

  /**
   * {@code top_k} as vLLM takes it: 0 and -1 both off, any count from 1 up, however large (one at or
   * above the vocabulary keeps every token; beyond a 32-bit integer it is taken as the largest).
   */
  private static Integer topK(ObjectNode body) {
    JsonNode v = body.get("top_k");
    if (v == null || v.isNull()) return null;
    requireType("top_k", v, Type.INTEGER);
    if (v.decimalValue().compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) return Integer.MAX_VALUE;
    if (v.decimalValue().compareTo(BigDecimal.valueOf(-1)) < 0)
      throw ApiError.invalid("top_k", "top_k must be 0 or -1 (off), or at least 1, got " + clip(JsonInteger.show(v)));
    return SamplingParams.topK(v.intValue());
  }

  private static Double number(ObjectNode body, String f, double min, double max) {
    JsonNode v = body.get(f);
    if (v == null || v.isNull()) return null;
    requireType(f, v, Type.NUMBER);
    double x = v.asDouble();
    if (!(x >= min && x <= max))
      throw ApiError.invalid(f, f + (min > 0 ? " must be greater than 0 and at most " + fmt(max) : " must be between " + fmt(min)
          + " and " + fmt(max)) + ", got " + clip(v.asText()));
    return x;
  }

  private static String fmt(double x) {
    return x == Math.rint(x) ? Long.toString((long) x) : Double.toString(x);
  }

  static String clip(String s) {
    return io.tandem.protocol.text.Clipped.of(s);
  }
}
