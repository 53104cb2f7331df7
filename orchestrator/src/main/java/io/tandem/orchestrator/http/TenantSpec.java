package io.tandem.orchestrator.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One API key and the tenant it stands for, with the tenant's limits (0: unlimited). Read from
 * {@code tandem.http.api-keys} or a keys file of the same shape.
 */
public record TenantSpec(String key, String tenant, int maxConcurrent, long tokensPerMinute) {
  public TenantSpec {
    if (key == null || key.isBlank()) throw new IllegalArgumentException("an API key entry has no 'key'");
    if (tenant == null || tenant.isBlank()) throw new IllegalArgumentException("API key entry for tenant-less key: 'tenant' is required");
    if (maxConcurrent < 0) throw new IllegalArgumentException("tenant " + tenant + ": max-concurrent must be >= 0 (0: unlimited)");
    if (tokensPerMinute < 0) throw new IllegalArgumentException("tenant " + tenant + ": tokens-per-minute must be >= 0 (0: unlimited)");
  }

  /** Entries of a list like {@code [{key = "...", tenant = "...", max-concurrent = 8, tokens-per-minute = 100000}]}. */
  public static List<TenantSpec> fromConfigList(List<? extends Config> entries, String source) {
    List<TenantSpec> out = new ArrayList<>();
    Set<String> keys = new HashSet<>();
    for (int i = 0; i < entries.size(); i++) {
      Config c = entries.get(i);
      String where = source + "[" + i + "]";
      for (var e : c.entrySet()) {
        String k = e.getKey();
        if (!Set.of("key", "tenant", "max-concurrent", "tokens-per-minute").contains(k))
          throw new IllegalArgumentException(where + ": unknown field '" + k
              + "' (an entry has key, tenant, max-concurrent, tokens-per-minute)");
      }
      if (!c.hasPath("key")) throw new IllegalArgumentException(where + ": 'key' is missing");
      if (!c.hasPath("tenant")) throw new IllegalArgumentException(where + ": 'tenant' is missing");
      TenantSpec t;
      try {
        t = new TenantSpec(c.getString("key"), c.getString("tenant"),
            c.hasPath("max-concurrent") ? c.getInt("max-concurrent") : 0,
            c.hasPath("tokens-per-minute") ? c.getLong("tokens-per-minute") : 0);
      } catch (com.typesafe.config.ConfigException.WrongType | com.typesafe.config.ConfigException.BadValue e) {
        throw new IllegalArgumentException(io.tandem.protocol.config.ConfigSection.describe(where, e), e);
      }
      if (!keys.add(t.key())) throw new IllegalArgumentException(where + ": the same key is listed twice");
      out.add(t);
    }
    return out;
  }

  /** A keys file: HOCON or JSON, either {@code {api-keys = [...]}} or the list itself. */
  public static List<TenantSpec> fromFile(Path file) {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("API keys file " + file + " does not exist");
    String text;
    try {
      text = Files.readString(file).strip();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("cannot read API keys file " + file + ": " + e.getMessage());
    }
    Config c = ConfigFactory.parseString(text.startsWith("[") ? "api-keys = " + text : text);
    if (!c.hasPath("api-keys"))
      throw new IllegalArgumentException(file + ": expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}");
    return fromConfigList(c.getConfigList("api-keys"), file.toString());
  }

  /** The key as logs may show it: never the whole secret. */
  public String redactedKey() {
    return key.length() <= 6 ? "***" : key.substring(0, 3) + "..." + key.substring(key.length() - 2);
  }
}
