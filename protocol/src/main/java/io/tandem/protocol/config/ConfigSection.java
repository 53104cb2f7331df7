package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads one section of a node's configuration ({@code tandem.http}, {@code tandem.small}, ...) so
 * that a value that cannot be used is named in one line by its full key, with what the key takes
 * and the value given, whichever file, system property or environment variable it came from:
 * {@code tandem.session.worker-wait must be a duration, like 30s, 500ms or 2m, got the string
 * "abc"}. Typesafe Config names a key relative to the {@link Config} it was read from (a section
 * read with {@link Config#getConfig} forgets its path), starts its message with the value's origin
 * ({@code system properties: ...}) and says what it wanted in its own terms ({@code has type STRING
 * rather than NUMBER}, {@code No number in duration value 'abc'}); the key and what to write there
 * are what a user can act on.
 */
public final class ConfigSection {

  /** Typesafe Config's message for a value it cannot read as its type, e.g. a size in bytes. */
  private static final Pattern INVALID_VALUE = Pattern.compile("Invalid value at '([^']*)': (.*)", Pattern.DOTALL);

  /** Typesafe Config's message for a value of another type: {@code KEY has type STRING rather than NUMBER}. */
  private static final Pattern WRONG_TYPE = Pattern.compile("(.*) has type (.*) rather than (.*)", Pattern.DOTALL);

  /** Typesafe Config's message for a null value: {@code Configuration key 'KEY' is set to null but expected STRING}. */
  private static final Pattern NULL = Pattern.compile("Configuration key '([^']*)' is set to null but expected (.*)", Pattern.DOTALL);

  /** The value a {@code BadValue} quotes: {@code No number in duration value 'abc'}. */
  private static final Pattern QUOTED = Pattern.compile(".*'([^']*)'.*", Pattern.DOTALL);

  /**
   * What {@code read} makes of the section at {@code path} of {@code root}.
   *
   * <p>{@code read} is given the section through {@link StrictConfig}: a whole number or a size in
   * bytes given with a fraction, and a duration given without its unit, are refused rather than
   * read as Typesafe Config would read them (cut to a whole number; milliseconds).
   *
   * @param path the section's full path, e.g. {@code tandem.http}
   * @throws InvalidConfigException in one line: {@code PATH.KEY must be WHAT IT TAKES, got VALUE} for
   *     a value not of its type, {@code PATH.KEY: missing} for a missing one, and what {@code read}
   *     refuses with an {@link IllegalArgumentException} (a value out of its range) as it says it
   */
  public static <T> T read(Config root, String path, Function<Config, T> read) {
    Config section;
    try {
      section = root.getConfig(path);
    } catch (ConfigException e) {
      throw InvalidConfigException.setting(path, describe("", e, root), e);
    }
    try {
      return read.apply(StrictConfig.of(path, section));
    } catch (ConfigException.BadValue | ConfigException.WrongType | ConfigException.Missing e) {
      // Only these name a key of the section; a parse error in a file the section names (an API keys file) names that file.
      String message = describe(path, e, section);
      throw InvalidConfigException.setting(path, fileOf(root, message) + message, e);
    } catch (InvalidConfigException e) {
      String file = e.getMessage() == null ? "" : fileOf(root, e.getMessage());
      if (file.isEmpty()) throw e;
      throw InvalidConfigException.setting(e.key(), file + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      // Whatever reading the section refuses is a mistake in its settings: the message names the key.
      throw InvalidConfigException.setting(path, fileOf(root, e.getMessage()) + e.getMessage(), e);
    }
  }

  /** The full key a message about a setting begins with ({@code tandem.http.api-keys} of {@code tandem.http.api-keys[0].key ...}). */
  private static final Pattern LEADING_KEY = Pattern.compile("^(tandem(?:\\.[A-Za-z0-9_-]+)+)(?:\\[(\\d{1,9})\\])?");

  /**
   * Where a file gave the key {@code message} begins with, as an unknown key is named ({@code
   * FILE: LINE: }), so that a value refused in a {@code -Dconfig.file} is found as easily; {@code ""}
   * when no file gave it (a {@code -D} option, the built-in defaults) or the message names no key.
   */
  private static String fileOf(Config root, String message) {
    Matcher m = message == null ? null : LEADING_KEY.matcher(message);
    if (m == null || !m.find()) return "";
    String key = m.group(1);
    try {
      if (!root.hasPath(key)) return "";
      ConfigValue value = root.getValue(key);
      // An entry of a list (tandem.http.api-keys[1]) is found at its own line, not the list's.
      if (m.group(2) != null && value instanceof com.typesafe.config.ConfigList list && Integer.parseInt(m.group(2)) < list.size())
        value = list.get(Integer.parseInt(m.group(2)));
      com.typesafe.config.ConfigOrigin origin = value.origin();
      return origin.filename() == null ? "" : origin.description() + ": ";
    } catch (ConfigException e) {
      return "";
    }
  }

  /**
   * Typesafe Config's message of {@code e} in one line, as {@link #read} words it: its key made full
   * by {@code section} (empty when the key read was already full), without the value's origin.
   */
  public static String describe(String section, ConfigException e) {
    return describe(section, e, null);
  }

  /** As {@link #describe(String, ConfigException)}, quoting the value from {@code read} (the config the key was read from; null: unknown). */
  static String describe(String section, ConfigException e, Config read) {
    String message = e.getMessage();
    String origin = e.origin() == null ? null : e.origin().description() + ": ";
    if (origin != null && message.startsWith(origin)) message = message.substring(origin.length());
    String prefix = section.isEmpty() ? "" : section + ".";
    Matcher invalid = INVALID_VALUE.matcher(message);
    Matcher wrongType = WRONG_TYPE.matcher(message);
    Matcher isNull = NULL.matcher(message);
    String key, takes, given;
    if (e instanceof ConfigException.BadValue && invalid.matches()) {
      key = invalid.group(1);
      takes = parsedAs(invalid.group(2));
      Matcher quoted = QUOTED.matcher(invalid.group(2));
      given = quoted.matches() ? "'" + quoted.group(1) + "'" : null;
      // A reason Typesafe Config gives in terms of no type of its own is kept as it says it.
      if (takes == null) return oneLine(prefix + key + ": " + invalid.group(2));
    } else if (e instanceof ConfigException.WrongType && wrongType.matches()) {
      key = wrongType.group(1);
      takes = typed(wrongType.group(3));
      given = wrongType.group(2).matches("[A-Z]+") ? article(wrongType.group(2)) : wrongType.group(2);
    } else if (e instanceof ConfigException.Null && isNull.matches()) {
      key = isNull.group(1);
      takes = typed(isNull.group(2));
      given = "null";
    } else if (e instanceof ConfigException.Missing) {
      return oneLine(prefix + message.replaceFirst("^No configuration setting found for key '([^']*)'", "$1: missing"));
    } else {
      return oneLine(prefix + message);
    }
    ConfigValue value = read == null || !hasValue(read, key) ? null : read.getValue(key);
    String mistake = mistake(prefix + key, takes, value != null ? shown(value) : given);
    if (e instanceof ConfigException.WrongType && takes.equals(typed("LIST")) && fromSystemProperties(e))
      return mistake + "; " + listAsProperties(prefix + key, value);
    return mistake;
  }

  private static boolean fromSystemProperties(ConfigException e) {
    return e.origin() != null && e.origin().description().startsWith("system properties");
  }

  /**
   * How {@code -D} options give the list {@code key} was given as one string ({@code value}, or
   * null when not at hand: the system property of that name is), one element a key: {@code
   * -Dtandem.roles=small,orchestrator} is the string "small,orchestrator", as is {@code
   * -Dtandem.roles=[small, orchestrator]} (only a file's HOCON reads brackets as a list).
   */
  private static String listAsProperties(String key, ConfigValue value) {
    String text = value != null && value.valueType() == com.typesafe.config.ConfigValueType.STRING
        ? (String) value.unwrapped() : System.getProperty(key, "");
    java.util.List<String> elements = java.util.Arrays.stream(text.split("[\\s,\\[\\]\"']+")).filter(x -> !x.isEmpty()).toList();
    if (elements.isEmpty()) elements = java.util.List.of("a", "b");
    StringBuilder options = new StringBuilder();
    for (int i = 0; i < elements.size(); i++) options.append(i == 0 ? "" : " ").append("-D").append(key).append('.').append(i).append('=')
        .append(elements.get(i));
    return "a -D option gives a list one element at a time: " + options;
  }

  private static boolean hasValue(Config c, String key) {
    try {
      return c.hasPath(key);
    } catch (ConfigException e) {
      return false;
    }
  }

  /** {@code KEY must be WHAT IT TAKES, got VALUE}: the one wording of a value a key does not take. */
  public static String mistake(String key, String takes, String given) {
    return oneLine(key + " must be " + takes + (given == null ? "" : ", got " + given));
  }

  /** What a key read as one of Typesafe Config's types takes, in a user's words. */
  private static String typed(String type) {
    return switch (type.strip()) {
      case "NUMBER" -> "a number";
      case "32-bit integer" -> "a whole number up to " + Integer.MAX_VALUE;
      case "64-bit long integer" -> "a whole number up to " + Long.MAX_VALUE;
      case "BOOLEAN" -> "true or false (on or off)";
      case "LIST" -> "a list, like [a, b]";
      case "OBJECT" -> "a section of keys, like { key = value }";
      // Text, a duration and a size are all read as strings: what none of them can be is a list or a section.
      case "STRING" -> "one value (text, a number, a duration or a size), not a list or a section";
      default -> type.strip().toLowerCase(java.util.Locale.ROOT);
    };
  }

  /** One of Typesafe Config's types as a message names a value of it: {@code a string}, {@code an object}. */
  private static String article(String type) {
    String t = type.toLowerCase(java.util.Locale.ROOT);
    return ("aeiou".indexOf(t.charAt(0)) >= 0 ? "an " : "a ") + t;
  }

  /** What a size in bytes takes when the one given is beyond a long, however it was written (a number, or with a unit: 8E). */
  static final String SIZE_UP_TO_LONG = "a size in bytes up to " + Long.MAX_VALUE + ", like 512MiB or 2GiB";

  /** What a key read as a duration or a size takes, from Typesafe Config's reason for refusing it; null for another reason. */
  private static String parsedAs(String reason) {
    if (reason.endsWith(OR_INFINITE)) return "a duration, like 30s, 500ms or 2m, or infinite";
    if (reason.contains("duration") || reason.contains("time unit")) return "a duration, like 30s, 500ms or 2m";
    // Typesafe Config: "size-in-bytes value is out of range for a 64-bit long", "... memory size with negative number".
    if (reason.contains("out of range for a 64-bit long")) return SIZE_UP_TO_LONG;
    if (reason.contains("memory size with negative number")) return "a size in bytes from 0 up, like 512MiB or 2GiB";
    if (reason.contains("size-in-bytes") || reason.contains("memory size")) return "a size in bytes, like 512MiB or 2GiB";
    if (reason.contains("period")) return "a period, like 7d or 2w";
    return null;
  }

  /**
   * {@code v} as a message quotes it: {@code the string "lots"}, {@code 1.5} (also from the string
   * "1.5"), {@code true}, {@code null}, {@code a list}, {@code an object}.
   */
  public static String shown(ConfigValue v) {
    return switch (v.valueType()) {
      // A number a -D option gives is a string: it is shown as the number it was written as.
      case STRING -> isNumber((String) v.unwrapped()) ? io.tandem.protocol.text.Clipped.of(((String) v.unwrapped()).strip())
          : "the string " + io.tandem.protocol.text.Clipped.of(v.render(com.typesafe.config.ConfigRenderOptions.concise()));
      case LIST -> "a list";
      case OBJECT -> "an object";
      case NUMBER, BOOLEAN, NULL -> String.valueOf(v.unwrapped());
    };
  }

  private static boolean isNumber(String s) {
    try {
      new java.math.BigDecimal(s.strip());
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /**
   * {@code text}, the value given for {@code key} (a command-line flag such as {@code
   * --skip-takeover-above}, or a key), read as a section's duration is read: with its unit ({@code
   * 500ms}, {@code 2s}, {@code 1 minute}), a bare number refused rather than read as milliseconds.
   *
   * @param key a name without dots, or a config key (its dots separate its path)
   * @throws InvalidConfigException {@code KEY must be a duration with its unit, like 500s or 500ms,
   *     got 500}, or {@code KEY must be a duration, like 30s, 500ms or 2m, got 'abc'}
   */
  public static java.time.Duration duration(String key, String text) {
    Config given = com.typesafe.config.ConfigFactory.empty().withValue(key, com.typesafe.config.ConfigValueFactory.fromAnyRef(text));
    try {
      return StrictConfig.of("", given).getDuration(key);
    } catch (ConfigException e) {
      throw InvalidConfigException.setting(key, describe("", e, given), e);
    }
  }

  /**
   * The longest delay Akka 2.8's scheduler takes ({@code LightArrayRevolverScheduler}: 2^31 - 1 ticks
   * of 10 ms); a timeout beyond it fails when it is scheduled, not when it is read, so a section's
   * {@code getDuration} refuses a longer one.
   */
  public static final java.time.Duration LONGEST_DELAY = java.time.Duration.ofSeconds(21_474_835);

  /** {@link #LONGEST_DELAY} as a message says it: {@code 21474835s (248 days, the longest delay Akka's scheduler takes)}. */
  public static final String LONGEST_DELAY_SAID = LONGEST_DELAY.toSeconds() + "s (" + LONGEST_DELAY.toDays()
      + " days, the longest delay Akka's scheduler takes)";

  /**
   * A timeout given as {@code infinite}: none. akka's own timeouts take the word (akka-http's {@code
   * request-timeout = infinite} turns its request timeout off); {@link #durationOrInfinite} reads it
   * where a key may be infinite, and {@link #asAkkaSetting} writes it back.
   */
  public static final java.time.Duration INFINITE = java.time.temporal.ChronoUnit.FOREVER.getDuration();

  /**
   * {@code key} of {@code section}: {@link #INFINITE} where it says {@code infinite}, else a duration
   * as {@code section} reads one (with its unit, from a section {@link #read} gives).
   *
   * @throws com.typesafe.config.ConfigException what {@code section}'s {@code getDuration} throws for
   *     a value that is neither (named by its full key when {@link #read} gives the section), a
   *     {@code BadValue} saying the key may also be {@code infinite}
   */
  public static java.time.Duration durationOrInfinite(Config section, String key) {
    if (hasValue(section, key) && section.getValue(key).valueType() == com.typesafe.config.ConfigValueType.STRING
        && section.getString(key).strip().equals("infinite"))
      return INFINITE;
    try {
      return section.getDuration(key);
    } catch (ConfigException.BadValue e) {
      Matcher invalid = INVALID_VALUE.matcher(e.getMessage());
      String reason = invalid.find() ? invalid.group(2) : e.getMessage();
      throw new ConfigException.BadValue(key, reason + OR_INFINITE, e);
    }
  }

  /** What {@link #durationOrInfinite} adds to Typesafe Config's reason, and {@link #parsedAs} reads back. */
  private static final String OR_INFINITE = " (a duration or infinite)";

  /** {@code d} as akka's settings take a duration: {@code infinite} for {@link #INFINITE}, else whole milliseconds ({@code 1500ms}). */
  public static String asAkkaSetting(java.time.Duration d) {
    return d.equals(INFINITE) ? "infinite" : d.toMillis() + "ms";
  }

  /**
   * {@code value} of {@code key} when it is from {@code min} to {@code max}.
   *
   * @throws InvalidConfigException {@code KEY must be from MIN to MAX (WHY), got VALUE}
   */
  public static long within(String key, long value, long min, long max, String why) {
    if (value < min || value > max)
      throw InvalidConfigException.setting(key, key + " must be from " + min + " to " + max + (why.isEmpty() ? "" : " (" + why + ")")
          + ", got " + value, null);
    return value;
  }

  /**
   * {@code value} of {@code key} when it is positive.
   *
   * @throws InvalidConfigException {@code KEY must be a positive duration, got WRITTEN}
   */
  public static java.time.Duration positive(String key, java.time.Duration value) {
    if (value.isZero() || value.isNegative())
      throw InvalidConfigException.setting(key, key + " must be a positive duration, got " + written(value), null);
    return value;
  }

  /**
   * {@code value} of {@code key}, read by {@link #durationOrInfinite}, when it is positive (or {@link #INFINITE}).
   *
   * @throws InvalidConfigException {@code KEY must be a positive duration or infinite, got WRITTEN}
   */
  public static java.time.Duration positiveOrInfinite(String key, java.time.Duration value) {
    if (value.isZero() || value.isNegative())
      throw InvalidConfigException.setting(key, key + " must be a positive duration or infinite, got " + written(value), null);
    return value;
  }

  /**
   * {@code value} of {@code key} when it is zero or more.
   *
   * @param zero what 0s means for the key ({@code never}), as the message says it
   * @throws InvalidConfigException {@code KEY must be a duration from 0s up (0s: ZERO), got WRITTEN}
   */
  public static java.time.Duration notNegative(String key, java.time.Duration value, String zero) {
    if (value.isNegative())
      throw InvalidConfigException.setting(key, key + " must be a duration from 0s up (0s: " + zero + "), got " + written(value),
          null);
    return value;
  }

  /**
   * {@code d} as a configuration writes it, in its largest unit that holds it whole ({@code -1s},
   * {@code 1500ms}, {@code 250us}): a refusal echoes the value given, not the milliseconds it made.
   */
  public static String written(java.time.Duration d) {
    long nanos;
    try {
      nanos = d.toNanos();
    } catch (ArithmeticException beyond) {
      return d.toSeconds() + "s";
    }
    if (nanos % 1_000_000_000L == 0) return nanos / 1_000_000_000L + "s";
    if (nanos % 1_000_000L == 0) return nanos / 1_000_000L + "ms";
    if (nanos % 1_000L == 0) return nanos / 1_000L + "us";
    return nanos + "ns";
  }

  private static String oneLine(String s) {
    return s.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  private ConfigSection() {}
}
