package io.tandem.worker;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A model served by a remote engine with an OpenAI-compatible API (vLLM, SGLang, or another
 * Tandem node), named where a model or a device is named: {@code
 * openai:http://HOST:PORT/v1?model=NAME[&tokenizer=DIR][&max-concurrency=N][&max-model-len=N][&api-key-env=VAR]}.
 *
 * <ul>
 *   <li>{@code model} (required): the engine's model name, as its {@code /v1/models} lists it;
 *   <li>{@code tokenizer}: a local Hugging Face folder with the engine model's {@code
 *       tokenizer.json} (and its chat template and {@code config.json}, when it has them): prompts
 *       are rendered and tokens counted, decoded and matched against triggers here, exactly as an
 *       in-process worker of the model does, and only token ids travel. Without it the engine's
 *       own tokenizer does that work ({@link EngineVocabulary}): chat templates and text through
 *       its {@code POST /tokenize}, token-id prompts through its {@code POST /detokenize} (vLLM's
 *       endpoints at the server root), generated text from its stream (each chunk's {@code text}
 *       beside its {@code token_ids}), the end of sequence from its {@code finish_reason}; token
 *       ids pass unchanged only between workers of the same {@code model}, any other role's
 *       tokens reach it as text (the text hand-over, as between two vocabularies);
 *   <li>{@code max-concurrency}: the most requests in flight to the engine at once (default: the
 *       role's {@code max-batch}); more wait in the worker's queue, up to its {@code queue-limit};
 *   <li>{@code max-model-len}: the engine's context length (vLLM's {@code --max-model-len});
 *       default: {@code max_position_embeddings} of the tokenizer folder's {@code config.json},
 *       or without a folder the {@code max_model_len} the engine's {@code /v1/models} lists;
 *   <li>{@code api-key-env}: the name of an environment variable holding the engine's API key
 *       (vLLM's {@code --api-key}, a Tandem node's {@code --api-keys}), sent as {@code
 *       Authorization: Bearer KEY} with every request to the engine. The spec names the variable,
 *       never the key: specs appear in logs and in {@code /health/ready}. Without it no key is sent.
 * </ul>
 *
 * @param baseUrl the API root, e.g. {@code http://127.0.0.1:8000/v1} (no trailing slash)
 * @param model the engine's model name
 * @param tokenizer the local tokenizer folder, or null to use the engine's tokenizer
 * @param maxConcurrency the most requests in flight, or 0 for the role's {@code max-batch}
 * @param maxModelLen the context length, or 0 to read it from the tokenizer folder or the engine
 * @param apiKeyEnv the environment variable the key was read from, or null when no key is sent
 * @param apiKey the key read from {@code apiKeyEnv} when the spec was parsed, or null; {@link
 *     #toString} leaves it out
 */
public record EngineSpec(URI baseUrl, String model, Path tokenizer, int maxConcurrency, int maxModelLen, String apiKeyEnv,
    String apiKey) {

  /** The prefix that marks a remote engine in a model or device spec. */
  public static final String PREFIX = "openai:";

  private static final String FORM =
      "openai:http://HOST:PORT/v1?model=NAME[&tokenizer=DIR][&max-concurrency=N][&max-model-len=N][&api-key-env=VAR]";

  private static final java.util.Set<String> PARAMETERS =
      java.util.Set.of("model", "tokenizer", "max-concurrency", "max-model-len", "api-key-env");

  /** Whether {@code spec} names a remote engine (starts with {@value #PREFIX}). */
  public static boolean isEngine(String spec) {
    return spec != null && spec.startsWith(PREFIX);
  }

  /**
   * Parses an engine spec, reading its {@code api-key-env} variable from this process's environment.
   *
   * @throws IllegalArgumentException as {@link #parse(String, Function)}
   */
  public static EngineSpec parse(String spec) {
    return parse(spec, System::getenv);
  }

  /**
   * Parses an engine spec, reading its {@code api-key-env} variable through {@code environment}.
   *
   * @param environment a variable's value by its name, null when it is not set
   * @throws IllegalArgumentException naming the spec and what is wrong with it: not http(s), no
   *     host, a missing {@code model}, a tokenizer folder without {@code
   *     tokenizer.json}, a count that is not a positive integer, an unknown parameter, an {@code
   *     api-key-env} variable that is not set or empty
   */
  public static EngineSpec parse(String spec, Function<String, String> environment) {
    if (!isEngine(spec)) throw new IllegalArgumentException("'" + spec + "' is not an engine spec: " + FORM);
    String rest = spec.substring(PREFIX.length());
    int q = rest.indexOf('?');
    String base = q < 0 ? rest : rest.substring(0, q);
    URI uri;
    try {
      uri = new URI(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("engine '" + spec + "': '" + base + "' is not a URL (" + e.getMessage() + "); " + FORM);
    }
    if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()))
      throw new IllegalArgumentException("engine '" + spec + "': the URL must start with http:// or https://; " + FORM);
    if (uri.getHost() == null) throw new IllegalArgumentException("engine '" + spec + "': the URL has no host; " + FORM);
    if (uri.getPort() > 65535)
      throw new IllegalArgumentException("engine '" + spec + "': port " + uri.getPort() + " is beyond 65535; " + FORM);

    Map<String, String> params = new LinkedHashMap<>();
    if (q >= 0 && q + 1 < rest.length()) {
      for (String pair : rest.substring(q + 1).split("&")) {
        int eq = pair.indexOf('=');
        if (eq <= 0) throw new IllegalArgumentException("engine '" + spec + "': '" + pair + "' is not KEY=VALUE; " + FORM);
        // The value as written, %XX decoded: a '+' stays a '+' (RFC 3986's query, not a form's space).
        String value = URLDecoder.decode(pair.substring(eq + 1).replace("+", "%2B"), StandardCharsets.UTF_8);
        // Given twice, one would be dropped without a word (tester45b: the last was kept).
        if (params.put(pair.substring(0, eq), value) != null)
          throw new IllegalArgumentException("engine '" + spec + "': " + pair.substring(0, eq) + "= is given twice; give it once");
      }
    }
    for (String k : params.keySet()) {
      if (!PARAMETERS.contains(k))
        throw new IllegalArgumentException("engine '" + spec + "': unknown parameter '" + k
            + "' (model, tokenizer, max-concurrency, max-model-len, api-key-env)");
    }
    String model = params.get("model");
    if (model == null || model.isBlank())
      throw new IllegalArgumentException("engine '" + spec + "': no model=NAME (the name the engine's /v1/models lists)");
    String tok = params.get("tokenizer");
    if (tok != null && tok.isBlank())
      throw new IllegalArgumentException("engine '" + spec + "': tokenizer= names no folder; give tokenizer=DIR, the engine"
          + " model's Hugging Face folder, or leave it out to use the engine's own /tokenize and /detokenize");
    Path dir = tok == null ? null : Path.of(tok);
    if (dir != null && !Files.isDirectory(dir))
      throw new IllegalArgumentException("engine '" + spec + "': tokenizer=" + dir + ": no such folder (give the engine"
          + " model's Hugging Face folder, or leave tokenizer= out to use the engine's own /tokenize and /detokenize)");
    if (dir != null && !Files.isRegularFile(dir.resolve("tokenizer.json")))
      throw new IllegalArgumentException("engine '" + spec + "': no tokenizer.json in " + dir
          + " (copy the engine model's tokenizer files there, e.g. from its Hugging Face folder, or leave tokenizer= out to use "
          + "the engine's own /tokenize and /detokenize)");
    String keyEnv = params.get("api-key-env");
    String key = null;
    if (keyEnv != null) {
      if (keyEnv.isBlank())
        throw new IllegalArgumentException("engine '" + spec + "': api-key-env names no variable; give api-key-env=VAR, VAR an "
            + "environment variable holding the engine's API key");
      key = environment.apply(keyEnv);
      if (key == null || key.isBlank())
        throw new IllegalArgumentException("engine '" + spec + "': the environment variable " + keyEnv + " (api-key-env) is "
            + (key == null ? "not set" : "empty") + "; export " + keyEnv + "=KEY, the engine's API key, before starting, "
            + "or leave api-key-env out for an engine without keys");
    }
    return new EngineSpec(uri, model, dir, positive(params, "max-concurrency", spec), positive(params, "max-model-len", spec),
        keyEnv, key);
  }

  /** The spec's fields with the API key left out (it names only its variable): specs are logged. */
  @Override
  public String toString() {
    return "EngineSpec[baseUrl=" + baseUrl + ", model=" + model + ", tokenizer=" + tokenizer + ", maxConcurrency="
        + maxConcurrency + ", maxModelLen=" + maxModelLen + ", apiKeyEnv=" + apiKeyEnv + "]";
  }

  private static int positive(Map<String, String> params, String key, String spec) {
    String v = params.get(key);
    if (v == null) return 0;
    try {
      int n = Integer.parseInt(v);
      if (n >= 1) return n;
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new IllegalArgumentException("engine '" + spec + "': " + key + " must be a positive integer, got '" + v + "'");
  }

  /** Whether prompts are rendered and tokens decoded here (a {@code tokenizer} folder), not by the engine. */
  public boolean localTokenizer() {
    return tokenizer != null;
  }

  /**
   * The server root, where vLLM serves {@code /tokenize} and {@code /detokenize}: the base URL
   * without its trailing {@code /v1}.
   */
  URI serverRoot() {
    String b = baseUrl.toString();
    return URI.create(b.endsWith("/v1") ? b.substring(0, b.length() - 3) : b);
  }

  /** {@code HOST:PORT}: what names this endpoint in logs and actor names. */
  public String endpoint() {
    return baseUrl.getHost() + ":" + (baseUrl.getPort() < 0 ? (baseUrl.getScheme().equals("https") ? 443 : 80) : baseUrl.getPort());
  }
}
