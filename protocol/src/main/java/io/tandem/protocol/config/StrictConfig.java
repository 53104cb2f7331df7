package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * A section of a node's configuration whose getters refuse the values Typesafe Config would
 * silently bend into another: its {@code getInt} and {@code getLong} cut a fraction off ({@code
 * max-in-flight = 0.5} is read as 0, which means "no limit"), its {@code getBytes} and {@code
 * getLong} read a number beyond a long as {@link Long#MAX_VALUE}, and its {@code getDuration} reads
 * a bare number as milliseconds ({@code shutdown-deadline = 30} is 30 ms where every default is
 * written {@code 30s}). Every other getter is Typesafe Config's own. A value given with {@code -D}
 * is a string ({@code "0.5"}) that Typesafe Config reads as a number where one is wanted, so it is
 * judged as that number.
 *
 * <p>A section it gives is as strict: {@code getConfig(key)} and each element of {@code
 * getConfigList(key)} (named {@code KEY[i]}), and what {@code withValue}, {@code withFallback},
 * {@code withoutPath}, {@code withOnlyPath} and {@code resolve} make of a section. Typesafe Config
 * names a key relative to the section it was read from, so a section given this way also names
 * the values its getters refuse by their full key ({@code tandem.http.limits.max-in-flight must be a
 * number, got the string "x"}); {@link ConfigSection#read} does that for the section it reads. A
 * {@link com.typesafe.config.ConfigObject} ({@code root()}, {@code getObject}) and a section moved
 * under another key ({@code atKey}, {@code atPath}) are Typesafe Config's own.
 */
final class StrictConfig {
  private StrictConfig() {}

  /**
   * {@code section} with strict getters; a value they refuse is named by {@code path} and its key.
   *
   * @param path the section's full path ({@code tandem.http}), or empty when keys are read in full
   * @throws InvalidConfigException from a getter, in one line: {@code tandem.http.max-in-flight must
   *     be a whole number, got 0.5}; {@code tandem.http.shutdown-deadline must be a duration with its
   *     unit, like 30s or 30ms, got 30}
   */
  static Config of(String path, Config section) {
    return of(path, section, false);
  }

  /**
   * @param names whether a value Typesafe Config refuses ({@link ConfigException.BadValue}, {@link
   *     ConfigException.WrongType}, {@link ConfigException.Missing}) is named here by its full key, as
   *     an {@link InvalidConfigException}: so for a section within the one {@link ConfigSection#read}
   *     reads, whose keys Typesafe Config names relative to it
   */
  private static Config of(String path, Config section, boolean names) {
    return (Config) Proxy.newProxyInstance(Config.class.getClassLoader(), new Class<?>[] {Config.class}, (proxy, method, args) -> {
      String key = args != null && args.length > 0 && args[0] instanceof String k ? k : null;
      String full = key == null || path.isEmpty() ? key : path + "." + key;
      if (key != null) {
        ConfigValue v = valueAt(section, key);
        if (v != null) {
          switch (method.getName()) {
            case "getInt" -> requireWhole(full, v, "a whole number", "a whole number up to " + Integer.MAX_VALUE);
            case "getLong" -> requireWhole(full, v, "a whole number", "a whole number up to " + Long.MAX_VALUE);
            case "getBytes", "getMemorySize" -> {
              requireWhole(full, v, "a whole number of bytes or a size like 512MiB or 2GiB", ConfigSection.SIZE_UP_TO_LONG);
              requireSizeUnit(full, v);
            }
            case "getDuration", "getMillis", "getNanos" -> requireUnit(full, v);
            default -> {}
          }
        }
      }
      Object result;
      try {
        result = method.invoke(section, args);
      } catch (InvocationTargetException e) {
        if (names && (e.getCause() instanceof ConfigException.BadValue || e.getCause() instanceof ConfigException.WrongType
            || e.getCause() instanceof ConfigException.Missing))
          throw InvalidConfigException.setting(full == null ? path : full,
              ConfigSection.describe(path, (ConfigException) e.getCause(), section), e.getCause());
        throw e.getCause();
      }
      if (result instanceof java.time.Duration d && d.compareTo(ConfigSection.LONGEST_DELAY) > 0)
        throw InvalidConfigException.setting(full, ConfigSection.mistake(full, "a duration of at most " + ConfigSection.LONGEST_DELAY_SAID,
            section.getString(key)), null);
      return switch (method.getName()) {
        case "getConfig" -> of(full, (Config) result, true);
        case "getConfigList" -> {
          List<?> list = (List<?>) result;
          List<Config> strict = new ArrayList<>();
          for (int i = 0; i < list.size(); i++) strict.add(of(full + "[" + i + "]", (Config) list.get(i), true));
          yield strict;
        }
        // The same section, changed: its keys keep their full names.
        case "withValue", "withFallback", "withoutPath", "withOnlyPath", "resolve", "resolveWith" -> of(path, (Config) result, names);
        default -> result;
      };
    });
  }

  /** The value at {@code key}, or null where the getter itself is to say what is wrong (missing, null, a path through a value). */
  private static ConfigValue valueAt(Config section, String key) {
    try {
      return section.hasPath(key) ? section.getValue(key) : null;
    } catch (ConfigException e) {
      return null;
    }
  }

  /**
   * Refuses a number with a fraction ({@code fraction}: what the key takes) or beyond a long
   * ({@code beyond}). Other values are the getter's to judge.
   */
  private static void requireWhole(String key, ConfigValue v, String fraction, String beyond) {
    String text = numberText(v);
    if (text == null) return;
    BigDecimal n;
    try {
      n = new BigDecimal(text);
    } catch (NumberFormatException e) {
      // What Double.parseDouble reads but BigDecimal does not (NaN, Infinity, 1.5d) is no whole number.
      throw InvalidConfigException.setting(key, ConfigSection.mistake(key, fraction, text), null);
    }
    if (n.stripTrailingZeros().scale() > 0)
      throw InvalidConfigException.setting(key, ConfigSection.mistake(key, fraction, text), null);
    if (n.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0 || n.compareTo(BigDecimal.valueOf(Long.MIN_VALUE)) < 0)
      throw InvalidConfigException.setting(key, ConfigSection.mistake(key, beyond, text), null);
  }

  /**
   * Refuses a size of 1 to 1,023 without its unit, which Typesafe Config reads as bytes: no size setting here is
   * meant so, and {@code max-body-size = 10} (meant as MiB) left a server that took no request (tester59c). 0 and
   * 1,024 or more stay bytes, as a setting's Javadoc may say.
   */
  private static void requireSizeUnit(String key, ConfigValue v) {
    String text = numberText(v);
    if (text == null) return;
    BigDecimal n = new BigDecimal(text);
    if (n.signum() > 0 && n.compareTo(BigDecimal.valueOf(1024)) < 0) {
      String number = n.stripTrailingZeros().toPlainString();
      throw InvalidConfigException.setting(key, ConfigSection.mistake(key, "a size with its unit, like " + number + "MiB or "
          + number + "KiB (a number alone is bytes, and fewer than 1024 are never meant)", text), null);
    }
  }

  /** A number written as JSON writes one: Java's own readers also take {@code 0.05d}, {@code 0.1f} and hex. */
  static final java.util.regex.Pattern DECIMAL = java.util.regex.Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][+-]?\\d+)?");

  /** Refuses a duration without its unit, which Typesafe Config would read as milliseconds. */
  private static void requireUnit(String key, ConfigValue v) {
    String text = numberText(v);
    // Typesafe Config takes the letters a duration ends in as its unit: 30d is 30 days.
    if (text == null || Character.isLetter(text.charAt(text.length() - 1))) return;
    // 0 is 0 in every unit (tester59e: retry-after = 0 was refused where kv-cache-bytes = 0 is taken).
    if (Double.parseDouble(text) == 0.0) return;
    // The number with a unit is what the user likely meant; 0 or less with one may still be refused (a timeout), so not shown.
    // A hex float (0x1p3) is shown in decimal digits: Typesafe Config reads no unit after one.
    double value = Double.parseDouble(text);
    String number = DECIMAL.matcher(text).matches() || !Double.isFinite(value) ? text
        : BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    String like = value > 0 && Double.isFinite(value) ? number + "s or " + number + "ms" : "30s or 500ms";
    throw InvalidConfigException.setting(key, ConfigSection.mistake(key, "a duration with its unit, like " + like, text), null);
  }

  /**
   * The text of {@code v} where Typesafe Config reads it as a number: a number, or a string that
   * {@link Double#parseDouble} reads (its {@code DefaultTransformer} tries {@link Long#parseLong},
   * then that); null for anything else.
   */
  static String numberText(ConfigValue v) {
    if (v.valueType() == ConfigValueType.NUMBER) return v.render();
    if (v.valueType() != ConfigValueType.STRING) return null;
    String s = ((String) v.unwrapped()).strip();
    try {
      Double.parseDouble(s);
      return s;
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
