package io.tandem.orchestrator.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.text.JsonSyntax;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One API key and the tenant it stands for, with the tenant's limits (0: unlimited). Read from
 * {@code tandem.http.api-keys} or a keys file of the same shape.
 */
public record TenantSpec(String key, String tenant, int maxConcurrent, long tokensPerMinute) {
  /**
   * Keys shorter than this are warned of at start (not refused: vLLM takes any {@code --api-key}):
   * 16 characters, 64 bits even as random hex digits, the least entropy OWASP's session management
   * cheat sheet asks of a session identifier.
   */
  public static final int GUESSABLE_BELOW = 16;

  private static final List<String> FIELDS = List.of("key", "tenant", "max-concurrent", "tokens-per-minute");
  /** An entry's number as a system property gives it: 0, 1, 2, ... as written in one way only, up to a billion. */
  private static final String ENTRY_NUMBER = "0|[1-9][0-9]{0,8}";
  private static final String SHAPE = "{\"key\": ..., \"tenant\": ..., \"max-concurrent\": ..., \"tokens-per-minute\": ...}";
  /**
   * The characters of a key: those of a token of {@code Authorization: Bearer TOKEN} (RFC 6750,
   * section 2.1, b64token), which may end in {@code =}s. akka-http refuses to model a header with
   * any other character and logs the whole header, the key in it, on every request that sends it:
   * such a key could never be accepted cleanly.
   */
  private static final String TOKEN_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

  /** Whether {@code tenant} has a control character or a line or paragraph separator (U+2028, U+2029), which some readers of a log take as a line's end. */
  private static boolean breaksALine(String tenant) {
    return tenant.chars().anyMatch(c -> Character.isISOControl(c) || Character.getType(c) == Character.LINE_SEPARATOR
        || Character.getType(c) == Character.PARAGRAPH_SEPARATOR);
  }

  /**
   * @throws IllegalArgumentException when the key is blank or has a character a Bearer token may
   *     not have (the message does not show the key), the tenant is blank or a limit is negative
   */
  public TenantSpec {
    if (key == null || key.isBlank()) throw new IllegalArgumentException("an API key entry has no 'key'");
    String notAToken = notABearerToken(key);
    if (notAToken != null) throw new IllegalArgumentException("an API key " + notAToken);
    if (tenant == null || tenant.isBlank()) throw new IllegalArgumentException("API key entry for tenant-less key: 'tenant' is required");
    // A tenant is a label on /metrics and in logs: a control character there (a NUL, a line break) breaks both.
    if (breaksALine(tenant))
      throw new IllegalArgumentException("tenant " + io.tandem.protocol.text.Clipped.visible(tenant) + " has a control character;"
          + " name a tenant with visible characters (and spaces)");
    if (maxConcurrent < 0) throw new IllegalArgumentException("tenant " + tenant + ": max-concurrent must be >= 0 (0: unlimited)");
    if (tokensPerMinute < 0) throw new IllegalArgumentException("tenant " + tenant + ": tokens-per-minute must be >= 0 (0: unlimited)");
  }

  /**
   * The entries of {@code list}, a list like {@code [{key = "...", tenant = "...", max-concurrent = 8,
   * tokens-per-minute = 100000}]}, or an object whose keys are whole numbers, as system properties
   * give a list one entry at a time ({@code -Dtandem.http.api-keys.0.key=sk-...}; Typesafe Config's
   * {@code getList} reads such an object as the list of its entries in their numbers' order).
   * Messages name an entry by the index it was given: {@code api-keys.1.key} alone is entry [1].
   *
   * @param source where the list is, as messages name it: {@code tandem.http.api-keys}, {@code
   *     FILE: api-keys}
   * @throws IllegalArgumentException naming the entry and its field ({@code SOURCE[0].max-concurrent
   *     must be a whole number (0: unlimited), got the string "lots"}) when the list or an entry is
   *     not of its shape, an entry's number is not written as one ({@code 01}, {@code -1}, {@code
   *     a}), a field is missing, null, unknown or out of its range, a key is not written as a string (a
   *     number, true or false) or has a character a Bearer token may not have (the key is not shown
   *     in either case), or a key is listed twice
   */
  public static List<TenantSpec> fromList(ConfigValue list, String source) {
    return fromList(list, source, false);
  }

  /**
   * {@link #fromList(ConfigValue, String)}, where {@code typed} says the values are typed as their
   * author wrote them (a keys file): a tenant must then be a string and a limit a number, where
   * Typesafe Config would read a number as text and a string as a number, as it must for {@code -D}
   * system properties, which give every value as a string.
   */
  private static List<TenantSpec> fromList(ConfigValue list, String source, boolean typed) {
    SortedMap<Long, ConfigValue> entries = numbered(list, source);
    if (entries == null)
      throw new IllegalArgumentException(source + " must be a list of entries " + SHAPE + ", got " + kindOf(list));
    List<TenantSpec> out = new ArrayList<>();
    Map<String, List<Map.Entry<Long, TenantSpec>>> limitsGiven = new HashMap<>();
    Map<String, Long> keyAt = new HashMap<>();
    // Per limit, each tenant's first entry that gives it as 0 written out.
    Map<String, Map<String, Long>> zeroGiven = new HashMap<>();
    // An entry as a message names another of the same list: api-keys[0] (a bare list in a file: [0]).
    String listName = source.substring(source.lastIndexOf(": ") < 0 ? 0 : source.lastIndexOf(": ") + 2);
    for (Map.Entry<Long, ConfigValue> numberedEntry : entries.entrySet()) {
      ConfigValue entry = numberedEntry.getValue();
      String where = source + "[" + numberedEntry.getKey() + "]";
      if (entry.valueType() != ConfigValueType.OBJECT)
        throw new IllegalArgumentException(where + " must be an entry " + SHAPE + ", got " + kindOf(entry));
      for (String k : ((ConfigObject) entry).keySet())
        if (!FIELDS.contains(k))
          throw new IllegalArgumentException(where + ": " + (named(k, FIELDS) != null ? "unknown field " + named(k, FIELDS)
              : "a field of another name (not shown here, in case it is a key)") + "; an entry has " + String.join(", ", FIELDS));
      Config c = ((ConfigObject) entry).toConfig();
      requireQuotedKey(c, where);
      String key = text(c, "key", where, false);
      String notAToken = notABearerToken(key);
      if (notAToken != null) throw new IllegalArgumentException(where + ".key " + notAToken);
      String tenant = text(c, "tenant", where, typed);
      if (tenant.equals(Metrics.NO_TENANT))
        throw new IllegalArgumentException(where + ".tenant \"" + tenant + "\" is the label that /metrics and the request log"
            + " give answers sent before a key was accepted (401s); name the tenant otherwise");
      // A tenant is shown to whoever reads /metrics (no key needed) and the request log: one that holds a key's shape is
      // most likely a key, with the tenant's name as its key (tester52b: the two swapped, the key was on /metrics).
      if (!io.tandem.protocol.text.Secrets.redact(tenant).equals(tenant))
        throw new IllegalArgumentException(where + ".tenant looks like an API key (not shown here): a tenant is a name that"
            + " /metrics, which needs no key, and the request log show; if key and tenant were swapped, swap them back, else"
            + " name the tenant in words (such as team-a)");
      // "team-a " and "team-a" would be two tenants whose /metrics labels look alike and whose limits are not shared (tester46a).
      if (tenant.matches("(?s)[\\s\\p{Z}\\u200B\\uFEFF].*|.*[\\s\\p{Z}\\u200B\\uFEFF]"))
        throw new IllegalArgumentException(where + ".tenant \"" + io.tandem.protocol.text.Clipped.of(tenant) + "\" has white space"
            + " at its start or end, which would make it another tenant than the one without it; write the name without it");
      if (breaksALine(tenant))
        throw new IllegalArgumentException(where + ".tenant " + io.tandem.protocol.text.Clipped.visible(tenant) + " has a control"
            + " character, which /metrics labels and log lines cannot carry; name the tenant with visible characters (and spaces)");
      TenantSpec t = new TenantSpec(key, tenant,
          (int) limit(c, "max-concurrent", Integer.MAX_VALUE, where, typed),
          limit(c, "tokens-per-minute", Long.MAX_VALUE, where, typed));
      Long before = keyAt.putIfAbsent(t.key(), numberedEntry.getKey());
      if (before != null)
        throw new IllegalArgumentException(where + ": the same key as " + listName + "[" + before + "]; give each key once");
      // Each tenant's entries so far, compared with the first of them that gives each limit: linear in the entries
      // (tester46a: 20,000 keys of 50 tenants took 55 s to start, compared each with every earlier one).
      for (Map.Entry<Long, TenantSpec> other : limitsGiven.computeIfAbsent(t.tenant(), x -> new ArrayList<>())) {
        String differs = differing("max-concurrent", other.getValue().maxConcurrent(), t.maxConcurrent());
        if (differs == null) differs = differing("tokens-per-minute", other.getValue().tokensPerMinute(), t.tokensPerMinute());
        if (differs != null)
          throw new IllegalArgumentException(where + ": tenant " + io.tandem.protocol.text.Clipped.of(t.tenant()) + " has " + differs
              + " in " + listName + "[" + other.getKey() + "]; its keys share one limit: give the same in both, or give it in"
              + " one entry only");
      }
      // A 0 written out means unlimited, which another entry's limit would silently override (tester53b: 0 beside 2 ran
      // with 2 for both keys, where 3 beside 2 is refused): refused as any two limits that differ.
      for (String field : List.of("max-concurrent", "tokens-per-minute")) {
        long here = field.equals("max-concurrent") ? t.maxConcurrent() : t.tokensPerMinute();
        Map<String, Long> zeros = zeroGiven.computeIfAbsent(field, x -> new HashMap<>());
        Long zeroAt = zeros.get(t.tenant());
        Map.Entry<Long, TenantSpec> limited = limitsGiven.get(t.tenant()).stream()
            .filter(e -> (field.equals("max-concurrent") ? e.getValue().maxConcurrent() : e.getValue().tokensPerMinute()) > 0)
            .findFirst().orElse(null);
        boolean zeroHere = here == 0 && c.hasPath(field);
        String clash = zeroHere && limited != null ? field + " 0 (unlimited) here and "
            + (field.equals("max-concurrent") ? limited.getValue().maxConcurrent() : limited.getValue().tokensPerMinute()) + " in "
            + listName + "[" + limited.getKey() + "]"
            : here > 0 && zeroAt != null ? field + " " + here + " here and 0 (unlimited) in " + listName + "[" + zeroAt + "]" : null;
        if (clash != null)
          throw new IllegalArgumentException(where + ": tenant " + io.tandem.protocol.text.Clipped.of(t.tenant()) + " has " + clash
              + "; its keys share one limit: give the same in both, or give it in one entry only");
        if (zeroHere) zeros.putIfAbsent(t.tenant(), numberedEntry.getKey());
      }
      List<Map.Entry<Long, TenantSpec>> given = limitsGiven.get(t.tenant());
      // The first entry giving each limit stands for all that agree with it: at most two entries are kept per tenant.
      boolean newConcurrent = t.maxConcurrent() > 0 && given.stream().noneMatch(e -> e.getValue().maxConcurrent() > 0);
      boolean newTokens = t.tokensPerMinute() > 0 && given.stream().noneMatch(e -> e.getValue().tokensPerMinute() > 0);
      if (newConcurrent || newTokens) given.add(Map.entry(numberedEntry.getKey(), t));
      out.add(t);
    }
    return out;
  }

  /**
   * The keys of two sources together ({@code tandem.http.api-keys} and a keys file), checked across
   * them as {@link #fromList} checks one list: a key may be given once (the second one's tenant
   * would have been billed silently), and one tenant's limits agree wherever they are given.
   *
   * @param first the entries of {@code firstSource}, as messages name it ({@code tandem.http.api-keys})
   * @param then the entries of {@code thenSource} ({@code --api-keys keys.json})
   * @throws IllegalArgumentException naming the tenant (never the key) and both sources
   */
  public static List<TenantSpec> joined(List<TenantSpec> first, String firstSource, List<TenantSpec> then, String thenSource) {
    for (TenantSpec t : then) {
      for (TenantSpec f : first) {
        if (f.key().equals(t.key()))
          throw new IllegalArgumentException(thenSource + ": a key of tenant " + io.tandem.protocol.text.Clipped.of(t.tenant())
              + " is also in " + firstSource + (f.tenant().equals(t.tenant()) ? "" : ", there for tenant "
                  + io.tandem.protocol.text.Clipped.of(f.tenant())) + "; give each key once");
        if (!f.tenant().equals(t.tenant())) continue;
        String differs = differing("max-concurrent", f.maxConcurrent(), t.maxConcurrent());
        if (differs == null) differs = differing("tokens-per-minute", f.tokensPerMinute(), t.tokensPerMinute());
        if (differs != null)
          throw new IllegalArgumentException(thenSource + ": tenant " + io.tandem.protocol.text.Clipped.of(t.tenant()) + " has "
              + differs + " in " + firstSource + "; its keys share one limit: give the same in both, or give it in one only");
      }
    }
    List<TenantSpec> out = new ArrayList<>(first);
    out.addAll(then);
    return out;
  }

  /**
   * How two entries of one tenant disagree on a limit, {@code max-concurrent 16 here and 2}, or null
   * when they do not: a limit left out (0) leaves it to the other entry, as {@link Tenants} merges
   * them (the strictest given wins).
   */
  private static String differing(String field, long before, long here) {
    return before == 0 || here == 0 || before == here ? null : field + " " + here + " here and " + before;
  }

  /**
   * The entries of a list by position, or of an object whose keys are entry numbers by those; null
   * for anything else, an entry itself included ({@code api-keys { key = ..., tenant = ... }}).
   *
   * @throws IllegalArgumentException naming the first key of such an object that is no entry
   *     number as written: one number is written one way only, so that {@code api-keys.01} and
   *     {@code api-keys.1} are not one entry of which one key is dropped
   */
  private static SortedMap<Long, ConfigValue> numbered(ConfigValue value, String source) {
    SortedMap<Long, ConfigValue> out = new TreeMap<>();
    if (value instanceof ConfigList list) {
      for (int i = 0; i < list.size(); i++) out.put((long) i, list.get(i));
      return out;
    }
    if (!(value instanceof ConfigObject object) || object.keySet().stream().anyMatch(FIELDS::contains)) return null;
    for (Map.Entry<String, ConfigValue> e : new TreeMap<>(object).entrySet()) {
      if (!e.getKey().matches(ENTRY_NUMBER)) {
        // Named where it is a number (01, -1) or a word; else it may be a key written as a name (tester51f).
        String name = e.getKey().matches("[+-]?\\d+") ? "'" + e.getKey() + "'" : named(e.getKey(), List.of());
        throw new IllegalArgumentException((name == null ? source + ": a member of another name (not shown here, in case it"
            + " is a key)" : source + "." + e.getKey() + ": " + name) + " is not an entry number; number the entries 0, 1, 2,"
            + " ... without leading zeros" + (source.contains(":") ? "" : ", as in -D" + source + ".0.key=sk-... -D" + source
            + ".0.tenant=NAME"));
      }
      out.put(Long.parseLong(e.getKey()), e.getValue());
    }
    return out;
  }

  /**
   * A keys file: JSON, either {@code {"api-keys": [...]}} or the list itself. JSON only, read as
   * request bodies are: HOCON, which a keys file was read as before, takes a member given twice as
   * its last value, so {@code "tenant": "a", "tenant": "b"} billed tenant b and a second {@code
   * "api-keys"} list dropped every key of the first (clients holding them answered 401), without a
   * word; the configuration's own {@code tandem.http.api-keys} stays HOCON, as all of it is.
   *
   * @throws NotJson naming the file, the line and column and the fault in JSON's terms, a member
   *     given twice included
   * @throws IllegalArgumentException naming the file, and the entry and field that is wrong (see
   *     {@link #fromList}), when the file is missing or unreadable, its keys not of their shape, it
   *     has a key beside {@code api-keys}, or it lists no keys (who gives a keys file means to require keys)
   */
  public static List<TenantSpec> fromFile(Path file) {
    if (!Files.exists(file)) throw new IllegalArgumentException("API keys file " + file + " does not exist");
    String written;
    try {
      written = io.tandem.protocol.text.Utf8Files.read("API keys file", file);
    } catch (java.io.IOException e) {
      throw new IllegalArgumentException("cannot read API keys file " + file + ": " + e.getMessage(), e);
    }
    String expected = "expected {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]}";
    com.fasterxml.jackson.databind.JsonNode tree;
    try {
      tree = Json.MAPPER.readTree(written);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new NotJson(file + ": not JSON" + JsonSyntax.of(e, written, "keys file") + "; a keys file is JSON, "
          + expected.substring("expected ".length()));
    } catch (StackOverflowError e) {
      throw new IllegalArgumentException(file + ": nested too deeply to read; " + expected);
    }
    if (tree == null || tree.isMissingNode())
      throw new NotJson(file + ": the file is empty; a keys file is JSON, " + expected.substring("expected ".length()));
    if (!tree.isObject() && !tree.isArray())
      throw new NotJson(file + ": " + expected + "; found " + Json.kind(tree));
    String text = written.strip();
    boolean bare = text.startsWith("[");
    // HOCON reads a whole number beyond a long as text, which the entries' checks below would take for a string:
    // the JSON says it is a number, refused for key and tenant as any other number is (tester46a: a 20-digit key was taken).
    com.fasterxml.jackson.databind.JsonNode list = bare ? tree : tree.get("api-keys");
    if (list != null && list.isArray())
      for (int i = 0; i < list.size(); i++)
        for (String field : List.of("key", "tenant")) {
          com.fasterxml.jackson.databind.JsonNode v = list.get(i).get(field);
          if (v == null || !v.isIntegralNumber() || v.canConvertToLong()) continue;
          String where = file + ": " + (bare ? "" : "api-keys") + "[" + i + "]." + field;
          throw new IllegalArgumentException(field.equals("key") ? where + NUMBER_KEY
              : ConfigSection.mistake(where, "a string", io.tandem.protocol.text.Clipped.of(v.asText())));
        }
    // Valid JSON is valid HOCON, with one meaning (no member twice): read as such, the entries are checked as
    // tandem.http.api-keys' are (HOCON, where JSON's syntax would refuse a number beyond a long the check names).
    Config c;
    try {
      c = ConfigFactory.parseString(bare ? "{\"api-keys\": " + text + "}" : text,
          ConfigParseOptions.defaults().setOriginDescription(file.toString()));
    } catch (StackOverflowError e) {
      // The HOCON parser recurses once per level of nesting: a list nested a million deep overflows its stack.
      throw new IllegalArgumentException(file + ": nested too deeply to read; " + expected);
    }
    if (!c.hasPath("api-keys")) {
      // Another name for the list (api_keys, apiKeys): say which was found.
      String found = c.root().keySet().stream().sorted().findFirst().map(k -> named(k, List.of("api-keys")) == null
          ? "; found a member of another name (not shown here, in case it is a key)"
          : "; found " + named(k, List.of("api-keys")) + " instead"
              + (io.tandem.protocol.config.KeySuggestions.nearest(k, List.of("api-keys")) != null ? " (write it api-keys)" : ""))
          .orElse("");
      throw new IllegalArgumentException(file + ": " + expected + found);
    }
    // A second list beside it ("apikeys": [...]) would be keys that never work, without a word.
    for (String top : c.root().keySet())
      if (!top.equals("api-keys"))
        throw new IllegalArgumentException(file + ": " + (named(top, List.of("api-keys")) != null ? "unknown key "
            + named(top, List.of("api-keys")) : "a member of another name (not shown here, in case it is a key)")
            + " (a keys file holds api-keys alone: {\"api-keys\": [{\"key\": ..., \"tenant\": ...}, ...]})");
    List<TenantSpec> tenants = fromList(c.getValue("api-keys"), file + ": " + (bare ? "" : "api-keys"), true);
    // Who gives a keys file means to require keys: an empty one must not leave the server open to anyone.
    if (tenants.isEmpty())
      throw new IllegalArgumentException(file + " lists no keys; add an entry {\"key\": ..., \"tenant\": ...} to its api-keys list,"
          + " or give no keys file to serve without keys (on 127.0.0.1 only)");
    return tenants;
  }

  /** A keys file that is not JSON: its text, not its entries, is at fault; the message names where and what. */
  public static final class NotJson extends IllegalArgumentException {
    NotJson(String message) {
      super(message);
    }
  }

  /**
   * Why {@code key} cannot be sent as {@code Authorization: Bearer KEY}, without showing it (it is
   * a secret, and messages end up in logs); null when it can.
   */
  private static String notABearerToken(String key) {
    int end = key.length();
    while (end > 0 && key.charAt(end - 1) == '=') end--;
    int at = 0;
    while (at < end && TOKEN_CHARACTERS.indexOf(key.charAt(at)) >= 0) at++;
    if (at == end && end > 0) return null;
    char c = key.charAt(at);
    String what = end == 0 ? "'=' with nothing before it" : c == ' ' ? "a space" : c == '=' ? "'=' before its end"
        : Character.isWhitespace(c) || Character.isISOControl(c) ? "a control or white-space character" : "not one of them";
    return "may contain only letters A-Z and a-z, digits and - . _ ~ + /, then = at its end (a token of 'Authorization: Bearer"
        + " KEY', RFC 6750); its character " + (at + 1) + " of " + key.length() + " is " + what + " (the key is not shown here);"
        + " give the tenant a key of those characters, e.g. sk- and letters and digits";
  }

  /**
   * Refuses a key written as a number or as true or false, without showing it: HOCON and JSON read
   * {@code 12345} or {@code 1.50} as a number, whose text a tool that rewrites the file may change
   * ({@code 1.5}), so the key a client sends would no longer match; a key is text, in quotes.
   */
  private static void requireQuotedKey(Config entry, String where) {
    if (!entry.hasPath("key")) return;
    ConfigValueType type = entry.getValue("key").valueType();
    if (type == ConfigValueType.NUMBER) throw new IllegalArgumentException(where + ".key" + NUMBER_KEY);
    if (type == ConfigValueType.BOOLEAN)
      throw new IllegalArgumentException(where + ".key is true or false, not a string (the key is not shown here); write the key"
          + " in quotes: \"key\": \"...\"");
  }

  /**
   * A value of a keys list as a message names it where it may be a key written in the wrong place (a
   * list of keys alone, a key as a limit): by its type, never its text (tester51b: {@code ["sk-..."]}
   * was refused quoting the key); a number, or a string that is one ({@code "2"}), which no key is
   * (a key written as a number is refused without it, {@link #NUMBER_KEY}), as written.
   */
  private static String kindOf(ConfigValue v) {
    if (v.valueType() == ConfigValueType.STRING)
      return isNumber((String) v.unwrapped()) ? "the string " + v.render(com.typesafe.config.ConfigRenderOptions.concise())
          : "a string (not shown here, in case it is a key)";
    return ConfigSection.shown(v);
  }

  private static boolean isNumber(String s) {
    return s.strip().matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?");
  }

  /**
   * A member name as a message quotes it where it is near one of {@code names} (a typo) or a short
   * word (10 lowercase letters, {@code -} and {@code _} at most, as {@code keys} or {@code api_keys},
   * shorter than a key may be without a warning that it can be guessed); else null, as
   * it may be a key written as a name ({@code {"sk-...": "team-a"}}, tester51b).
   */
  private static String named(String name, List<String> names) {
    return io.tandem.protocol.config.KeySuggestions.nearest(name, names) != null || name.matches("[a-z]+([_-][a-z]+)*")
        && name.length() <= 10 ? "'" + io.tandem.protocol.text.Clipped.of(name) + "'" : null;
  }

  /** What a key written as a number is told, after its place. */
  private static final String NUMBER_KEY = " is a number, not a string (the key is not shown here); write the key in quotes: \"key\": \"...\"";

  /**
   * A field an entry must have, as a non-blank string: when {@code typed}, written as one (a tenant
   * written 1 or 1.0 would be two tenants, and a file's rewriting tool may change the one into the
   * other); else a number is text, as Typesafe Config reads it ({@code key} refuses numbers itself).
   */
  private static String text(Config entry, String field, String where, boolean typed) {
    if (!entry.hasPathOrNull(field)) throw new IllegalArgumentException(where + ": '" + field + "' is missing");
    if (entry.getIsNull(field))
      throw new IllegalArgumentException(ConfigSection.mistake(where + "." + field, "a string", "null"));
    ConfigValue v = entry.getValue(field);
    if (v.valueType() != ConfigValueType.STRING && (typed || v.valueType() != ConfigValueType.NUMBER))
      throw new IllegalArgumentException(ConfigSection.mistake(where + "." + field, "a string", ConfigSection.shown(v)));
    String s = entry.getString(field);
    if (s.isBlank()) throw new IllegalArgumentException(where + "." + field + (s.isEmpty() ? " is empty" : " is blank (white space only)"));
    return s;
  }

  /**
   * A limit an entry may have, from 0 (unlimited, as when it is left out) to {@code max}; when
   * {@code typed}, written as a number, not as a string ({@code "2"}) that Typesafe Config would read
   * as one.
   */
  private static long limit(Config entry, String field, long max, String where, boolean typed) {
    if (!entry.hasPathOrNull(field)) return 0;
    String key = where + "." + field;
    if (entry.getIsNull(field))
      throw new IllegalArgumentException(ConfigSection.mistake(key, "a whole number (0: unlimited)", "null"));
    ConfigValue v = entry.getValue(field);
    if (typed && v.valueType() == ConfigValueType.STRING && !beyondALong((String) v.unwrapped()))
      throw new IllegalArgumentException(ConfigSection.mistake(key, "a whole number (0: unlimited)", kindOf(v)));
    Number n;
    try {
      n = entry.getNumber(field);
    } catch (ConfigException.WrongType e) {
      throw new IllegalArgumentException(ConfigSection.mistake(key, "a whole number (0: unlimited)", kindOf(v)));
    }
    if (n instanceof Double d && d != Math.rint(d))
      throw new IllegalArgumentException(ConfigSection.mistake(key, "a whole number (0: unlimited)", ConfigSection.shown(v)));
    // Typesafe Config reads a number beyond a long as a double, whose longValue is the largest long: named as given.
    if (n instanceof Double d && Math.abs(d) >= 0x1p63)
      throw new IllegalArgumentException(ConfigSection.mistake(key, "from 0 to " + max + " (0: unlimited)", ConfigSection.shown(v)));
    return ConfigSection.within(key, n.longValue(), 0, max, "0: unlimited");
  }

  /**
   * Whether {@code text} is an integer beyond a long's range, which HOCON reads as text even when it
   * is written without quotes (its parser gives up on the number): the one string value a file's
   * author may not have quoted.
   */
  private static boolean beyondALong(String text) {
    if (!text.matches("-?[0-9]+")) return false;
    try {
      Long.parseLong(text);
      return false;
    } catch (NumberFormatException e) {
      return true;
    }
  }

  /** The key as logs may show it: never the whole secret. */
  public String redactedKey() {
    return key.length() <= 6 ? "***" : key.substring(0, 3) + "..." + key.substring(key.length() - 2);
  }
}
