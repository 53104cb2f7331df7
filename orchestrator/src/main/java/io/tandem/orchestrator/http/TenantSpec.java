package io.tandem.orchestrator.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.tandem.protocol.config.ConfigSection;
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
  private static final List<String> FIELDS = List.of("key", "tenant", "max-concurrent", "tokens-per-minute");
  private static final String SHAPE = "{\"key\": ..., \"tenant\": ..., \"max-concurrent\": ..., \"tokens-per-minute\": ...}";

  public TenantSpec {
    if (key == null || key.isBlank()) throw new IllegalArgumentException("an API key entry has no 'key'");
    if (tenant == null || tenant.isBlank()) throw new IllegalArgumentException("API key entry for tenant-less key: 'tenant' is required");
    if (maxConcurrent < 0) throw new IllegalArgumentException("tenant " + tenant + ": max-concurrent must be >= 0 (0: unlimited)");
    if (tokensPerMinute < 0) throw new IllegalArgumentException("tenant " + tenant + ": tokens-per-minute must be >= 0 (0: unlimited)");
  }

  /**
   * The list at {@code path} of {@code c} for {@link #fromList}: an object whose keys are 0, 1, ...
   * counts as the list it spells, as Typesafe Config's {@code getList} reads it, so that entries can
   * be given one system property at a time ({@code -Dtandem.http.api-keys.0.key=sk-...}); any other
   * value is handed on as it is, for fromList to say what is wrong with it.
   */
  public static ConfigValue listAt(Config c, String path) {
    try {
      return c.getList(path);
    } catch (ConfigException.WrongType notAList) {
      return c.getValue(path);
    }
  }

  /**
   * The entries of {@code list}, a list like {@code [{key = "...", tenant = "...", max-concurrent = 8,
   * tokens-per-minute = 100000}]}.
   *
   * @param source where the list is, as messages name it: {@code tandem.http.api-keys}, {@code
   *     FILE: api-keys}
   * @throws IllegalArgumentException naming the entry and its field ({@code SOURCE[0].max-concurrent
   *     must be a whole number (0: unlimited), got the string "lots"}) when the list or an entry is
   *     not of its shape, a field is missing, unknown or out of its range, or a key is listed twice
   */
  public static List<TenantSpec> fromList(ConfigValue list, String source) {
    if (list.valueType() != ConfigValueType.LIST)
      throw new IllegalArgumentException(source + " must be a list of entries " + SHAPE + ", got " + shown(list));
    List<TenantSpec> out = new ArrayList<>();
    Set<String> keys = new HashSet<>();
    for (int i = 0; i < ((ConfigList) list).size(); i++) {
      ConfigValue entry = ((ConfigList) list).get(i);
      String where = source + "[" + i + "]";
      if (entry.valueType() != ConfigValueType.OBJECT)
        throw new IllegalArgumentException(where + " must be an entry " + SHAPE + ", got " + shown(entry));
      for (String k : ((ConfigObject) entry).keySet())
        if (!FIELDS.contains(k))
          throw new IllegalArgumentException(where + ": unknown field '" + k + "' (an entry has " + String.join(", ", FIELDS) + ")");
      Config c = ((ConfigObject) entry).toConfig();
      TenantSpec t = new TenantSpec(text(c, "key", where), text(c, "tenant", where),
          (int) limit(c, "max-concurrent", Integer.MAX_VALUE, where), limit(c, "tokens-per-minute", Long.MAX_VALUE, where));
      if (!keys.add(t.key())) throw new IllegalArgumentException(where + ": the same key is listed twice");
      out.add(t);
    }
    return out;
  }

  /**
   * A keys file: HOCON or JSON, either {@code {api-keys = [...]}} or the list itself.
   *
   * @throws IllegalArgumentException naming the file, and the entry and field that is wrong (see
   *     {@link #fromList}), when the file is missing or unreadable or its keys not of their shape
   * @throws ConfigException.Parse when the file is not HOCON or JSON; its origin names the file
   */
  public static List<TenantSpec> fromFile(Path file) {
    if (!Files.isRegularFile(file)) throw new IllegalArgumentException("API keys file " + file + " does not exist");
    String text;
    try {
      text = Files.readString(file).strip();
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("cannot read API keys file " + file + ": " + e.getMessage());
    }
    boolean bare = text.startsWith("[");
    Config c = ConfigFactory.parseString(bare ? "api-keys = " + text : text,
        ConfigParseOptions.defaults().setOriginDescription(file.toString()));
    if (!c.hasPath("api-keys"))
      throw new IllegalArgumentException(file + ": expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}");
    return fromList(listAt(c, "api-keys"), file + ": " + (bare ? "" : "api-keys"));
  }

  /** A field an entry must have, as a non-blank string. */
  private static String text(Config entry, String field, String where) {
    if (!entry.hasPath(field)) throw new IllegalArgumentException(where + ": '" + field + "' is missing");
    ConfigValue v = entry.getValue(field);
    // A number is a string to HOCON (key = 12345), as getString reads it.
    if (v.valueType() != ConfigValueType.STRING && v.valueType() != ConfigValueType.NUMBER)
      throw new IllegalArgumentException(where + "." + field + " must be a string, got " + shown(v));
    String s = entry.getString(field);
    if (s.isBlank()) throw new IllegalArgumentException(where + "." + field + " is empty");
    return s;
  }

  /** A limit an entry may have, from 0 (unlimited, as when it is left out) to {@code max}. */
  private static long limit(Config entry, String field, long max, String where) {
    if (!entry.hasPath(field)) return 0;
    String key = where + "." + field;
    ConfigValue v = entry.getValue(field);
    Number n;
    try {
      n = entry.getNumber(field);
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException(key + " must be a whole number (0: unlimited), got " + shown(v));
    }
    if (n instanceof Double d && d != Math.rint(d))
      throw new IllegalArgumentException(key + " must be a whole number (0: unlimited), got " + d);
    return ConfigSection.within(key, n.longValue(), 0, max, "0: unlimited");
  }

  /** {@code v} as a message quotes it: {@code the string "lots"}, {@code 1.5}, {@code true}, {@code a list}. */
  private static String shown(ConfigValue v) {
    return switch (v.valueType()) {
      case STRING -> "the string " + v.render(ConfigRenderOptions.concise());
      case LIST -> "a list";
      case OBJECT -> "an object";
      case NUMBER, BOOLEAN, NULL -> String.valueOf(v.unwrapped());
    };
  }

  /** The key as logs may show it: never the whole secret. */
  public String redactedKey() {
    return key.length() <= 6 ? "***" : key.substring(0, 3) + "..." + key.substring(key.length() - 2);
  }
}
