package io.tandem.worker;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.SamplingParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodySubscribers;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * One engine endpoint's OpenAI-compatible API, asynchronously ({@link HttpClient#sendAsync}), so
 * that the worker actor never blocks: a streamed {@code POST /v1/completions} per step and {@code
 * GET /v1/models} for health.
 *
 * <p>The request is vLLM's {@code CompletionRequest} ({@code vllm/entrypoints/openai/protocol.py}):
 * {@code prompt} as a list of token ids, {@code max_tokens}, {@code temperature}, {@code top_p},
 * {@code top_k} (vLLM's and SGLang's extension; -1 is off), {@code seed}, {@code stop} with {@code
 * include_stop_str_in_output} (vLLM) and {@code no_stop_trim} (SGLang's name, {@code
 * sglang/srt/entrypoints/openai/protocol.py}) so that the trigger's text stays in the output, {@code
 * skip_special_tokens: false} (an EOS token must come back as a token), {@code return_token_ids}
 * (vLLM; in streaming the first chunk carries {@code prompt_token_ids} and each chunk the {@code
 * token_ids} it adds, {@code serving_completion.py}), and {@code stream_options.include_usage} so
 * that the last chunk reports {@code usage.prompt_tokens} and, when the engine counts them (vLLM's
 * {@code --enable-prompt-tokens-details}), {@code usage.prompt_tokens_details.cached_tokens}: the
 * prompt tokens its prefix cache already held.
 *
 * <p>Without a local tokenizer ({@link EngineVocabulary}) the engine's tokenizer is asked too, as
 * vLLM's server answers at its root (not under {@code /v1}; {@code
 * vllm/entrypoints/openai/api_server.py}, models {@code TokenizeCompletionRequest}, {@code
 * TokenizeChatRequest}, {@code TokenizeResponse}, {@code DetokenizeRequest}, {@code
 * DetokenizeResponse} in {@code vllm/entrypoints/openai/protocol.py}): {@code POST /tokenize}
 * {@code {model, prompt, add_special_tokens: false}} or {@code {model, messages,
 * add_generation_prompt, add_special_tokens: false}} (and the request's {@code
 * continue_final_message}, {@code chat_template_kwargs}, {@code tools}) answers {@code {tokens, count,
 * max_model_len}}; {@code POST /detokenize {model, tokens}} answers {@code {prompt}}. The steps
 * then ask for {@code skip_special_tokens: true}, so that each chunk's {@code text} is the text
 * of its {@code token_ids} as a decode that drops special tokens writes it (the ids still carry
 * them).
 *
 * <p>Every request carries {@code Authorization: Bearer KEY} when the spec names an {@code
 * api-key-env} (OpenAI's authentication, as vLLM's {@code --api-key} and a Tandem node's API keys
 * check it); a 401 or 403 answer is the engine refusing the key (or asking for one), named as such.
 *
 * <p>Failures are sorted for the worker: no connection, a timeout, a broken stream (one that ends
 * without a {@code finish_reason} included), a 5xx status or a refused key (401, 403) mean the engine is lost ({@link Listener#failed} with {@code lost}); a 4xx or a malformed answer
 * is an error of that request only.
 */
final class EngineClient {

  /** What a streamed completion reports, on the HTTP client's threads, in order. */
  interface Listener {
    /**
     * The next generated token ids (one SSE chunk's {@code token_ids}, possibly none when the
     * chunk carries text only) and the chunk's {@code text}.
     */
    void tokens(int[] ids, String text);

    /** The final usage: prompt tokens sent, and those the engine's prefix cache held (-1: not reported). */
    void usage(int promptTokens, int cachedTokens);

    /**
     * The stream ended normally; {@code finishReason} as OpenAI's ({@code stop}, {@code length}),
     * {@code stopString} when a {@code stop} string ended it (vLLM's {@code stop_reason}).
     */
    void ended(String finishReason, boolean stopString);

    /** The request failed; {@code lost} when the engine itself is unreachable or broken. */
    void failed(boolean lost, String message);

    /**
     * The request got no answer at all ({@link #unanswered}: the port refused it, or a kept-alive
     * connection closed before a response). Gone, or shutting down gracefully with its streams in
     * flight still flowing: the listener tells the two apart. By default a lost engine.
     */
    default void notConnected(String message) {
      failed(true, message);
    }

    /**
     * The engine refused the request, answering before any output, for {@code code}: {@link
     * io.tandem.protocol.FailureCode#CONTEXT_LENGTH_EXCEEDED}, the prompt and {@code max_tokens}
     * beyond its {@code max_model_len} (vLLM's 400 "This model's maximum context length is ...");
     * {@link io.tandem.protocol.FailureCode#INVALID_REQUEST}, another 400 (or 422) of what was asked;
     * {@link io.tandem.protocol.FailureCode#QUEUE_FULL}, busy for now (a 429, or a 503 that may be
     * retried: a Tandem node at capacity); {@link io.tandem.protocol.FailureCode#UNAVAILABLE}, shutting
     * down ({@link #shuttingDown}); {@link io.tandem.protocol.FailureCode#ROLE_NOT_SERVED}, it
     * cannot serve at all (a 503 with {@code x-should-retry: false}: a Tandem node that will never be
     * ready). {@code message} says so, in the engine's words. The engine itself answers: not lost.
     */
    void refused(io.tandem.protocol.FailureCode code, String message);
  }

  /** A request in flight; {@link #cancel} stops it and silences its listener. */
  interface Stream {
    void cancel();
  }

  /** The body of {@code POST /v1/completions} (vLLM's and SGLang's field names). */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  record CompletionBody(
      String model,
      int[] prompt,
      @JsonProperty("max_tokens") int maxTokens,
      double temperature,
      @JsonProperty("top_p") double topP,
      @JsonProperty("top_k") int topK,
      Long seed,
      List<String> stop,
      @JsonProperty("include_stop_str_in_output") Boolean includeStopStrInOutput,
      @JsonProperty("no_stop_trim") Boolean noStopTrim,
      @JsonProperty("skip_special_tokens") boolean skipSpecialTokens,
      @JsonProperty("return_token_ids") boolean returnTokenIds,
      boolean stream,
      @JsonProperty("stream_options") Map<String, Object> streamOptions,
      @JsonProperty("cache_salt") String cacheSalt) {

    /**
     * A streamed step: {@code prompt} ids, at most {@code maxTokens}, stopping at {@code stop}
     * (empty: none) kept in the output; {@code textWithoutSpecials} when the worker takes the
     * engine's text (no local tokenizer), which must then leave special tokens out as a local
     * decode does. {@code cacheScope}: who may share the step's prefix cache on the engine (its
     * tenant and {@code cache_salt}, {@link io.tandem.protocol.worker.WorkerProtocol.Generate#cacheScope}),
     * sent as vLLM's {@code cache_salt} ({@link #salt}); {@code ""} sends none.
     */
    static CompletionBody step(String model, int[] prompt, int maxTokens, SamplingParams s, List<String> stop,
        boolean textWithoutSpecials, String cacheScope) {
      boolean stops = !stop.isEmpty();
      return new CompletionBody(model, prompt, maxTokens, s.temperature(), s.topP(), s.topK() == 0 ? -1 : s.topK(),
          s.seed(), stops ? stop : null, stops ? Boolean.TRUE : null, stops ? Boolean.TRUE : null, textWithoutSpecials,
          true, true, Map.of("include_usage", true), salt(cacheScope));
    }

    /**
     * The {@code cache_salt} that keeps a cache scope's prefix cache apart on the engine: the
     * HMAC-SHA256 of the scope under {@link #SALT_KEY}, in hex, so that the engine's requests and
     * logs carry no tenant's name, and no one who can reach the engine can compute a tenant's salt
     * and read its cache (tester50e: a plain SHA-256 of a tenant's name was guessed); null for the
     * scope of no tenant and no salt. vLLM mixes the salt into the hash of a request's first block
     * ({@code vllm/v1/core/kv_cache_utils.py}), so requests of two scopes share no block.
     */
    static String salt(String cacheScope) {
      if (cacheScope.isEmpty()) return null;
      try {
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(SALT_KEY);
        return java.util.HexFormat.of().formatHex(mac.doFinal(cacheScope.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      } catch (java.security.GeneralSecurityException e) {
        throw new IllegalStateException("every Java platform has HmacSHA256", e);
      }
    }

    /**
     * The key of {@link #salt}, drawn once per process: one tenant's steps share the engine's cache
     * for as long as this process runs; a process started again salts anew, so its engine's cache
     * of before is not shared with it.
     */
    private static final javax.crypto.spec.SecretKeySpec SALT_KEY = saltKey();

    private static javax.crypto.spec.SecretKeySpec saltKey() {
      byte[] key = new byte[32];
      new java.security.SecureRandom().nextBytes(key);
      return new javax.crypto.spec.SecretKeySpec(key, "HmacSHA256");
    }
  }

  /**
   * An engine request that did not get its answer; {@code lost} when the engine is unreachable or
   * broken (no connection, a timeout, a 5xx), else the request's own problem.
   */
  static final class EngineException extends RuntimeException {
    final boolean lost;
    /** No answer came at all: the connection refused, or closed before a response ({@link #unanswered}). */
    final boolean notConnected;

    EngineException(boolean lost, String message) {
      this(lost, message, false);
    }

    /** The engine answered that it is shutting down ({@link #shuttingDown}): it cannot serve this, but is not lost. */
    final boolean shuttingDown;

    EngineException(boolean lost, String message, boolean notConnected) {
      this(lost, message, notConnected, false);
    }

    private EngineException(boolean lost, String message, boolean notConnected, boolean shuttingDown) {
      super(message, null, false, false);
      this.lost = lost;
      this.notConnected = notConnected;
      this.shuttingDown = shuttingDown;
    }

    static EngineException shuttingDown(String message) {
      return new EngineException(false, message, false, true);
    }
  }

  /**
   * Whether an answer says the engine is shutting down: a 503 whose message says so, as a Tandem node
   * that is draining answers a request on a connection kept alive from before ("the server cannot
   * serve this request now: the server is shutting down"), while it finishes the requests in flight.
   */
  static boolean shuttingDown(int status, String body) {
    return status == 503 && errorMessage(body).contains("shutting down");
  }

  private String shuttingDownWords(String body) {
    return "engine " + spec.endpoint() + " is shutting down (it answered 503: " + errorMessage(body) + ")";
  }

  /**
   * Whether {@code error} means the request reached no engine that would answer it: its port refused
   * the connection, or a kept-alive connection closed before a response. So an engine shutting down
   * gracefully treats a new request, while its streams in flight flow on (tester47e, tester47f);
   * a crashed one breaks those streams too.
   */
  static boolean unanswered(Throwable error) {
    Throwable t = cause(error);
    if (t instanceof java.net.http.HttpConnectTimeoutException) return false;
    if (t instanceof java.net.ConnectException) return true;
    return t instanceof java.io.IOException && t.getMessage() != null && t.getMessage().contains("header parser received no bytes");
  }

  /**
   * Whether an engine's 400 body refuses the request for the engine's context: OpenAI's and a Tandem
   * node's {@code code: "context_length_exceeded"}, or vLLM's words ("maximum context length"), as
   * its {@code ErrorResponse} carries them with {@code code: 400}.
   */
  static boolean beyondContext(String body) {
    try {
      JsonNode error = JSON.readTree(body).path("error");
      JsonNode node = error.isObject() ? error : JSON.readTree(body);
      return "context_length_exceeded".equals(node.path("code").asText())
          || node.path("message").asText().contains("maximum context length");
    } catch (JsonProcessingException e) {
      return false;
    }
  }

  /**
   * The {@code message} of an engine's error body (OpenAI's {@code {"error": {...}}} or vLLM's flat
   * one), else the body, clipped.
   */
  static String errorMessage(String body) {
    try {
      JsonNode root = JSON.readTree(body);
      JsonNode message = root.path("error").isObject() ? root.path("error").path("message") : root.path("message");
      return message.isTextual() ? clip(message.asText()) : clip(body);
    } catch (JsonProcessingException e) {
      return clip(body);
    }
  }

  /** What a health poll found: null {@code problem} when the engine serves the model; its {@code max_model_len} (0: not listed). */
  record Health(String problem, int maxModelLen, boolean unanswered) {
    Health(String problem, int maxModelLen) {
      this(problem, maxModelLen, false);
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();

  private final EngineSpec spec;
  private final EngineSettings settings;
  private final HttpClient http;

  /** The engine's {@code HOST:PORT}, as logs and readiness name it. */
  String endpoint() {
    return spec.endpoint();
  }

  EngineClient(EngineSpec spec, EngineSettings settings) {
    this.spec = spec;
    this.settings = settings;
    // vLLM's and SGLang's servers (uvicorn, FastAPI) speak HTTP/1.1; no h2c upgrade attempt.
    this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(settings.connectTimeout()).build();
  }

  private URI uri(String path) {
    return URI.create(spec.baseUrl() + path);
  }

  /** A request to {@code uri} with its timeout, and the spec's key when it has one. */
  private HttpRequest.Builder request(URI uri, java.time.Duration timeout) {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout);
    return spec.apiKey() == null ? b : b.header("Authorization", "Bearer " + spec.apiKey());
  }

  /**
   * What a 401 or 403 from the engine means for this spec (a key refused, or one missing), or
   * null for another status.
   */
  private String refused(int status) {
    if (status != 401 && status != 403) return null;
    String where = "engine " + spec.endpoint() + " answered " + status + ": ";
    return spec.apiKeyEnv() == null
        ? where + "it requires an API key; add api-key-env=VAR to the engine spec, VAR an environment variable holding the key"
        : where + "the engine refused the key in " + spec.apiKeyEnv() + "; set api-key-env=VAR to a variable holding a key "
            + "the engine accepts (vLLM's --api-key, a Tandem node's --api-keys)";
  }

  /** Sends one streamed completion; {@code listener} hears its tokens, usage and end (or failure). */
  Stream complete(CompletionBody body, Listener listener) {
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a completion body always serializes", e);
    }
    HttpRequest request = request(uri("/completions"), settings.requestTimeout())
        .header("Content-Type", "application/json")
        .header("Accept", "text/event-stream")
        .POST(HttpRequest.BodyPublishers.ofByteArray(json))
        .build();
    SseLines sse = new SseLines(listener);
    CompletableFuture<HttpResponse<String>> future = http.sendAsync(request, info -> info.statusCode() == 200
        ? BodySubscribers.fromLineSubscriber(sse, s -> "", StandardCharsets.UTF_8, null)
        : BodySubscribers.ofString(StandardCharsets.UTF_8));
    future.whenComplete((response, error) -> {
      if (sse.cancelled) return;
      if (error != null && unanswered(error)) {
        listener.notConnected("engine " + spec.endpoint() + " unreachable: " + describe(error));
      } else if (error != null) {
        listener.failed(true, lostWords(spec.endpoint(), error));
      } else if (refused(response.statusCode()) != null) {
        listener.failed(true, refused(response.statusCode()));
      } else if (response.statusCode() == 400 && beyondContext(response.body())) {
        listener.refused(io.tandem.protocol.FailureCode.CONTEXT_LENGTH_EXCEEDED,
            "engine " + spec.endpoint() + " answered 400: " + errorMessage(response.body()));
      } else if (shuttingDown(response.statusCode(), response.body())) {
        // A Tandem engine node that is draining answers a new request so on a kept-alive connection: it cannot
        // serve it, but is not busy either (tester47g read "at capacity"). Not lost: it finishes its streams.
        listener.refused(io.tandem.protocol.FailureCode.UNAVAILABLE, shuttingDownWords(response.body()));
      } else if (response.statusCode() == 429 || response.statusCode() == 503) {
        // An engine that answers is not lost: busy, the step waits or goes elsewhere as from a full
        // queue; never to be ready, the request is refused for good. Losing the worker at each 503
        // had it stop and register again at every request (tester45b: a flapping worker, every
        // request "retry once one is back").
        boolean never = response.statusCode() == 503
            && response.headers().firstValue("x-should-retry").map("false"::equalsIgnoreCase).orElse(false);
        listener.refused(never ? io.tandem.protocol.FailureCode.ROLE_NOT_SERVED : io.tandem.protocol.FailureCode.QUEUE_FULL,
            "engine " + spec.endpoint() + " answered " + response.statusCode() + ": " + errorMessage(response.body()));
      } else if (response.statusCode() == 400 || response.statusCode() == 422) {
        // The engine refused what the request asked (vLLM's validation: stop_token_ids not unique, ...):
        // the request's fault, in the engine's words, not a model error with its JSON escaped (tester45e).
        listener.refused(io.tandem.protocol.FailureCode.INVALID_REQUEST, "engine " + spec.endpoint() + " refused the request ("
            + response.statusCode() + "): " + errorMessage(response.body()));
      } else if (response.statusCode() != 200) {
        listener.failed(response.statusCode() >= 500,
            "engine " + spec.endpoint() + " answered " + response.statusCode() + ": " + errorMessage(response.body()));
      } else {
        sse.end();
      }
    });
    return () -> {
      sse.cancel();
      future.cancel(true);
    };
  }

  /**
   * Polls {@code GET /v1/models}: a {@link Health} without a problem when the engine answers and
   * lists the model (with the {@code max_model_len} it lists for it, as vLLM's {@code ModelCard}
   * does), else with what is wrong.
   */
  CompletableFuture<Health> health() {
    HttpRequest request = request(uri("/models"), settings.healthTimeout()).GET().build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).handle((response, error) -> {
      // The health poll's own limit is tandem.engine.health-timeout, not the request timeout (tester46d).
      if (error != null) {
        // Connected but no answer in time: stalled (a GC pause, SIGSTOP) or its API server busy, not gone, which
        // refuses the connection or closes it (tester46d: a 5 s stall failed every request in flight). Not called
        // unreachable (tester47d).
        boolean unanswered = cause(error) instanceof java.net.http.HttpTimeoutException
            && !(cause(error) instanceof java.net.http.HttpConnectTimeoutException);
        String problem = unanswered ? "engine " + spec.endpoint() + " does not answer: no answer to GET /v1/models within"
            + " tandem.engine.health-timeout (" + io.tandem.protocol.text.Seconds.of(settings.healthTimeout()) + " s): stalled,"
            + " or too busy to answer"
            : "engine " + spec.endpoint() + " unreachable: " + describe(error);
        return new Health(problem, 0, unanswered);
      }
      if (refused(response.statusCode()) != null) return problem(refused(response.statusCode()));
      if (response.statusCode() == 404)
        return problem("engine " + spec.endpoint() + " answered 404 to GET " + uri("/models") + ": the spec's URL must be the"
            + " engine's API root, where /models is (vLLM's and a Tandem node's: http://HOST:PORT/v1)");
      if (shuttingDown(response.statusCode(), response.body())) return problem(shuttingDownWords(response.body()));
      if (response.statusCode() != 200) return problem("engine " + spec.endpoint() + " /v1/models answered " + response.statusCode());
      try {
        JsonNode data = JSON.readTree(response.body()).path("data");
        for (JsonNode m : data)
          if (spec.model().equals(m.path("id").asText())) return new Health(null, m.path("max_model_len").asInt(0));
        return problem("engine " + spec.endpoint() + " does not serve model '" + spec.model() + "' (its /v1/models lists "
            + data.findValuesAsText("id") + ")");
      } catch (JsonProcessingException e) {
        return problem("engine " + spec.endpoint() + " /v1/models is not JSON: " + clip(response.body()));
      }
    });
  }

  private static Health problem(String problem) {
    return new Health(problem, 0);
  }

  /**
   * The engine's tokenizer on {@code text}, adding no special tokens (as a local {@code encode}
   * does): {@code POST /tokenize}.
   *
   * @return the token ids; fails with an {@link EngineException}
   */
  CompletableFuture<int[]> tokenize(String text) {
    return tokenize(text, false);
  }

  /**
   * The engine's tokenizer on {@code text}, with the special tokens it adds around a text or
   * without ({@code add_special_tokens}, as vLLM's {@code TokenizeCompletionRequest} takes it).
   *
   * @return the token ids; fails with an {@link EngineException}
   */
  CompletableFuture<int[]> tokenize(String text, boolean addSpecialTokens) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("model", spec.model());
    body.put("prompt", text);
    body.put("add_special_tokens", addSpecialTokens);
    return post("/tokenize", body).thenApply(EngineClient::tokens);
  }

  /**
   * The engine's chat template and tokenizer on {@code messages}, rendered as {@code args} say:
   * {@code POST /tokenize} with {@code messages}, {@code add_generation_prompt}, {@code
   * continue_final_message}, and the variables as vLLM's {@code TokenizeChatRequest} takes them
   * ({@code tools} as such, the others in {@code chat_template_kwargs}).
   *
   * @return the token ids; fails with an {@link EngineException}
   */
  CompletableFuture<int[]> tokenizeChat(List<io.tandem.protocol.ChatMessage> messages, io.tandem.protocol.ChatTemplateArgs args) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("model", spec.model());
    body.put("messages", messages.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList());
    body.put("add_generation_prompt", args.addGenerationPrompt());
    if (args.continueFinalMessage()) body.put("continue_final_message", true);
    Map<String, Object> kwargs = new LinkedHashMap<>(args.variables());
    Object tools = kwargs.remove("tools");
    if (tools != null) body.put("tools", tools);
    if (!kwargs.isEmpty()) body.put("chat_template_kwargs", kwargs);
    body.put("add_special_tokens", false);
    return post("/tokenize", body).thenApply(EngineClient::tokens);
  }

  /**
   * The text of {@code ids} as the engine's tokenizer decodes them: {@code POST /detokenize}.
   *
   * @return the text; fails with an {@link EngineException}
   */
  CompletableFuture<String> detokenize(int[] ids) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("model", spec.model());
    body.put("tokens", ids);
    return post("/detokenize", body).thenApply(answer -> {
      JsonNode text = answer.get("prompt");
      if (text == null || !text.isTextual())
        throw new EngineException(false, "engine " + spec.endpoint() + " /detokenize answered without a prompt text: " + clip(answer.toString()));
      return text.asText();
    });
  }

  private static int[] tokens(JsonNode answer) {
    JsonNode ids = answer.get("tokens");
    if (ids == null || !ids.isArray())
      throw new EngineException(false, "the engine's /tokenize answered without tokens: " + clip(answer.toString()));
    int[] out = new int[ids.size()];
    for (int i = 0; i < out.length; i++) out[i] = ids.get(i).asInt();
    return out;
  }

  /** POSTs {@code body} to {@code path} at the server root; the answer's JSON, or an {@link EngineException}. */
  private CompletableFuture<JsonNode> post(String path, Map<String, Object> body) {
    String where = "engine " + spec.endpoint() + " " + path;
    HttpRequest request;
    try {
      request = request(URI.create(spec.serverRoot() + path), settings.requestTimeout())
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
          .build();
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a tokenizer request always serializes", e);
    }
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).handle((response, error) -> {
      if (error != null)
        throw new EngineException(true, lostWords(spec.endpoint(), error), unanswered(error));
      int status = response.statusCode();
      if (refused(status) != null) throw new EngineException(true, refused(status));
      if (shuttingDown(status, response.body())) throw EngineException.shuttingDown(shuttingDownWords(response.body()));
      if (status == 404 || status == 405)
        throw new EngineException(false, where + " answered " + status + ": the engine does not serve it (vLLM does);"
            + " give the engine spec tokenizer=DIR, a local folder with the model's tokenizer.json");
      if (status != 200) throw new EngineException(status >= 500, where + " answered " + status + ": " + errorMessage(response.body()));
      try {
        return JSON.readTree(response.body());
      } catch (JsonProcessingException e) {
        throw new EngineException(false, where + " answered something that is not JSON: " + clip(response.body()));
      }
    });
  }

  /**
   * A request the engine took and did not answer in words: one that timed out on an open connection
   * is an engine not answering (stalled or hung), not one out of reach (tester54b read "unreachable"
   * of an engine that had accepted the request).
   */
  static String lostWords(String endpoint, Throwable error) {
    boolean timedOut = cause(error) instanceof java.net.http.HttpTimeoutException
        && !(cause(error) instanceof java.net.http.HttpConnectTimeoutException);
    return "engine " + endpoint + (timedOut ? " is not answering: " : " unreachable: ") + describe(error);
  }

  /**
   * What went wrong reaching the engine, in words: Java's HttpClient gives a refused connection as
   * a {@code ConnectException} without a message (tester44a read "unreachable: ConnectException").
   */
  static String describe(Throwable error) {
    Throwable t = cause(error);
    // A host name that resolves to nothing comes as a ConnectException without a message, as a
    // refused connection does: its cause tells them apart (tester45b read "connection refused").
    for (Throwable c = t; c != null; c = c.getCause())
      if (c instanceof java.nio.channels.UnresolvedAddressException || c instanceof java.net.UnknownHostException)
        return "its host name does not resolve (check HOST in the spec's URL)";
    if (t instanceof java.net.ConnectException && (t.getMessage() == null || t.getMessage().isBlank()))
      return "connection refused (is the engine running, on that port?)";
    // The JDK's words for a stream cut mid-chunk ("chunked transfer encoding, state: READING_LENGTH").
    if (t instanceof java.io.IOException && t.getMessage() != null && t.getMessage().startsWith("chunked transfer encoding"))
      return "the connection closed mid-answer (the engine stopped, or crashed)";
    if (t instanceof java.net.http.HttpConnectTimeoutException) return "no connection within the connect timeout";
    if (t instanceof java.net.http.HttpTimeoutException) return "no answer within the request timeout";
    // The JDK's words for a connection closed before a response ("HTTP/1.1 header parser received no bytes").
    if (t instanceof java.io.IOException && t.getMessage() != null && t.getMessage().contains("header parser received no bytes"))
      return "the connection closed before an answer (the engine stopped, or crashed)";
    return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
  }

  /** {@code error} without the CompletionException an async call wraps it in. */
  private static Throwable cause(Throwable error) {
    return error instanceof java.util.concurrent.CompletionException && error.getCause() != null ? error.getCause() : error;
  }

  private static String clip(String s) {
    return s.length() <= 300 ? s : s.substring(0, 300) + "...";
  }

  /** Server-sent events of a streamed completion, one {@code data: {...}} line per chunk. */
  static final class SseLines implements Flow.Subscriber<String> {
    private final Listener listener;
    private volatile Flow.Subscription subscription;
    volatile boolean cancelled;
    private String finishReason;
    private boolean stopString;
    private boolean broken;
    private boolean sawData;
    private String firstLine;

    SseLines(Listener listener) {
      this.listener = listener;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      subscription = s;
      if (cancelled) s.cancel();
      else s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(String line) {
      if (firstLine == null && !line.isBlank()) firstLine = line;
      if (cancelled || broken || !line.startsWith("data:")) return;
      sawData = true;
      String data = line.substring(5).trim();
      if (data.equals("[DONE]")) return;
      try {
        JsonNode chunk = JSON.readTree(data);
        if (chunk.has("error")) {
          fail("engine error mid-stream: " + chunk.get("error"));
          return;
        }
        for (JsonNode choice : chunk.path("choices")) {
          JsonNode ids = choice.get("token_ids");
          if (ids == null || !ids.isArray()) {
            if (!choice.path("text").asText("").isEmpty()) {
              fail("the engine returned text without token_ids: it must support return_token_ids (vLLM 0.10.2 or later)");
              return;
            }
          } else if (ids.size() > 0 || !choice.path("text").asText("").isEmpty()) {
            int[] out = new int[ids.size()];
            for (int i = 0; i < out.length; i++) out[i] = ids.get(i).asInt();
            listener.tokens(out, choice.path("text").asText(""));
          }
          if (choice.hasNonNull("finish_reason")) {
            finishReason = choice.get("finish_reason").asText();
            stopString = choice.path("stop_reason").isTextual();
          }
        }
        JsonNode usage = chunk.get("usage");
        if (usage != null && usage.isObject()) {
          JsonNode cached = usage.path("prompt_tokens_details").path("cached_tokens");
          listener.usage(usage.path("prompt_tokens").asInt(), cached.isNumber() ? cached.asInt() : -1);
        }
      } catch (JsonProcessingException e) {
        fail("the engine sent a chunk that is not JSON: " + clip(data));
      }
    }

    private void fail(String message) {
      broken = true;
      listener.failed(false, message);
      cancel();
    }

    /** The body ended: with a finish reason, the completion's end; without one, a stream cut short (the engine died). */
    void end() {
      if (broken || cancelled) return;
      // A 200 with no event at all is no stream (tester54b: a plain-text body read as a stream cut short).
      if (!sawData) listener.failed(true, "the engine answered 200 without a stream (no data: line"
          + (firstLine == null ? ", an empty body" : "; its body began " + clip(firstLine)) + "): is it an OpenAI-compatible server?");
      else if (finishReason == null) listener.failed(true, "the engine's stream ended without a finish_reason");
      else listener.ended(finishReason, stopString);
    }

    void cancel() {
      cancelled = true;
      if (subscription != null) subscription.cancel();
    }

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onComplete() {}
  }
}
