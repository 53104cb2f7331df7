package io.tandem.ops;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;
import io.tandem.orchestrator.http.Cors;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import picocli.CommandLine.Option;

/**
 * vLLM's CORS flags, as a picocli mixin of {@code serve} ({@code @Mixin CorsOptions cors}): which
 * web pages of other origins may call the API. Each flag overrides its {@code tandem.http} setting
 * ({@link Cors}); the lists are JSON, as vLLM's {@code --allowed-origins '["http://localhost:3000"]'}
 * takes them, and {@code --allow-credentials} is a switch, as vLLM's.
 */
public final class CorsOptions {
  private static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  @Option(names = "--allowed-origins", paramLabel = "JSON",
      description = "Origins whose web pages may call the API, as a JSON list: '[\"http://localhost:3000\"]' (\"null\" for"
          + " file: pages and sandboxed iframes), or '[\"*\"]' for all (tandem.http.allowed-origins, default [\"*\"]).")
  String allowedOrigins;

  @Option(names = "--allowed-methods", paramLabel = "JSON",
      description = "HTTP methods those pages may use, as a JSON list: '[\"GET\", \"POST\"]', or '[\"*\"]' for all"
          + " (tandem.http.allowed-methods, default [\"*\"]).")
  String allowedMethods;

  @Option(names = "--allowed-headers", paramLabel = "JSON",
      description = "Request headers those pages may send, as a JSON list: '[\"Authorization\"]', or '[\"*\"]' for all"
          + " (tandem.http.allowed-headers, default [\"*\"]).")
  String allowedHeaders;

  @Option(names = "--allow-credentials",
      description = "Let those pages send cookies and HTTP authentication (tandem.http.allow-credentials, default off).")
  boolean allowCredentials;

  /**
   * {@code config} with each flag given in place of its {@code tandem.http} setting.
   *
   * @throws UsageError naming the flag and its value: not a JSON list of strings, or an item that
   *     {@link Cors#origins}, {@link Cors#methods} or {@link Cors#headers} refuses (the rules of the settings)
   */
  public Config apply(Config config) {
    Config c = config;
    c = list(c, "--allowed-origins", allowedOrigins, "tandem.http.allowed-origins", o -> Cors.origins("--allowed-origins", o));
    c = list(c, "--allowed-methods", allowedMethods, "tandem.http.allowed-methods", m -> Cors.methods("--allowed-methods", m));
    c = list(c, "--allowed-headers", allowedHeaders, "tandem.http.allowed-headers", h -> Cors.headers("--allowed-headers", h));
    if (allowCredentials) c = c.withValue("tandem.http.allow-credentials", ConfigValueFactory.fromAnyRef(true));
    return c;
  }

  /** The first of these flags given, as a message names it ({@code --allowed-origins ["*"]}); null when none is. */
  public String given() {
    if (allowedOrigins != null) return "--allowed-origins " + allowedOrigins;
    if (allowedMethods != null) return "--allowed-methods " + allowedMethods;
    if (allowedHeaders != null) return "--allowed-headers " + allowedHeaders;
    return allowCredentials ? "--allow-credentials" : null;
  }

  private static Config list(Config c, String flag, String value, String key, UnaryOperator<List<String>> check) {
    if (value == null) return c;
    List<String> items = jsonList(flag, value);
    try {
      items = check.apply(items);
    } catch (IllegalArgumentException e) {
      throw new UsageError(e.getMessage(), e); // the message names the flag
    }
    return c.withValue(key, ConfigValueFactory.fromIterable(items));
  }

  /**
   * {@code value} read as a JSON list of strings.
   *
   * @throws UsageError {@code FLAG 'VALUE': give a JSON list of strings, e.g. FLAG '["*"]' ...}
   */
  static List<String> jsonList(String flag, String value) {
    try {
      JsonNode node = JSON.readTree(value);
      if (node.isArray()) {
        List<String> out = new ArrayList<>();
        for (JsonNode item : node) if (item.isTextual()) out.add(item.asText());
        if (out.size() == node.size()) return out;
      }
    } catch (JsonProcessingException e) {
      // not JSON: refused below, as any other value that is not a list of strings
    }
    throw new UsageError(flag + " '" + value + "': give a JSON list of strings, e.g. " + flag + " '[\"*\"]' (in single"
        + " quotes, so that the shell keeps the double ones)");
  }
}
