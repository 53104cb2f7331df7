package io.tandem.orchestrator.http;

import com.typesafe.config.Config;
import io.tandem.protocol.config.SpeculativeConfig;
import java.time.Duration;
import java.util.List;

/** The HTTP server's settings, from {@code tandem.http} (see the orchestrator's reference.conf). */
public record HttpSettings(
    String host,
    int port,
    List<String> modelNames,
    List<TenantSpec> tenants,
    long maxBodyBytes,
    int maxInFlight,
    int defaultMaxTokens,
    int maxMaxTokens,
    double charsPerToken,
    int retryAfterSeconds,
    Duration shutdownDeadline,
    ReasoningSplitter.Mode reasoningParser,
    SpeculativeConfig speculative) {

  public HttpSettings {
    if (modelNames.isEmpty()) throw new IllegalArgumentException("tandem.http.served-model-names is empty");
    modelNames = List.copyOf(modelNames);
    tenants = List.copyOf(tenants);
  }

  /** {@code tandem.http} of {@code config}, with {@code tandem.speculative} as every request's base config. */
  public static HttpSettings fromConfig(Config config) {
    Config c = config.getConfig("tandem.http");
    List<TenantSpec> tenants = TenantSpec.fromConfigList(c.getConfigList("api-keys"), "tandem.http.api-keys");
    String file = c.getString("api-keys-file");
    if (!file.isBlank()) {
      tenants = new java.util.ArrayList<>(tenants);
      tenants.addAll(TenantSpec.fromFile(java.nio.file.Path.of(file)));
    }
    return new HttpSettings(
        c.getString("host"),
        c.getInt("port"),
        c.getStringList("served-model-names"),
        tenants,
        c.getBytes("max-body-size"),
        c.getInt("max-in-flight"),
        c.getInt("default-max-tokens"),
        c.getInt("max-max-tokens"),
        c.getDouble("chars-per-token"),
        (int) c.getDuration("retry-after").toSeconds(),
        c.getDuration("shutdown-deadline"),
        ReasoningSplitter.Mode.parse(c.getString("reasoning-parser")),
        SpeculativeConfig.fromHocon(config));
  }

  public HttpSettings withPort(int newPort) {
    return new HttpSettings(host, newPort, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, charsPerToken, retryAfterSeconds, shutdownDeadline, reasoningParser, speculative);
  }

  public HttpSettings withTenants(List<TenantSpec> newTenants) {
    return new HttpSettings(host, port, modelNames, newTenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, charsPerToken, retryAfterSeconds, shutdownDeadline, reasoningParser, speculative);
  }

  public HttpSettings withSpeculative(SpeculativeConfig newSpeculative) {
    return new HttpSettings(host, port, modelNames, tenants, maxBodyBytes, maxInFlight, defaultMaxTokens,
        maxMaxTokens, charsPerToken, retryAfterSeconds, shutdownDeadline, reasoningParser, newSpeculative);
  }

  /** True when no API key is configured: the server is open to anyone who can reach it. */
  public boolean open() {
    return tenants.isEmpty();
  }
}
