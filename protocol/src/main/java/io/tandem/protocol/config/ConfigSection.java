package io.tandem.protocol.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads one section of a node's configuration ({@code tandem.http}, {@code tandem.small}, ...) so
 * that a value that cannot be read is named by its full key, whichever file, system property or
 * environment variable it came from: {@code tandem.http.max-body-size: No number in size-in-bytes
 * value 'lots'}. Typesafe Config names a key relative to the {@link Config} it was read from (a
 * section read with {@link Config#getConfig} forgets its path), and starts its message with the
 * value's origin ({@code system properties: ...}); the key is what a user can act on.
 */
public final class ConfigSection {

  /** Typesafe Config's message for a value it cannot read as its type, e.g. a size in bytes. */
  private static final Pattern INVALID_VALUE = Pattern.compile("Invalid value at '([^']*)': (.*)", Pattern.DOTALL);

  /**
   * What {@code read} makes of the section at {@code path} of {@code root}.
   *
   * @param path the section's full path, e.g. {@code tandem.http}
   * @throws IllegalArgumentException {@code PATH.KEY: WHY} (or {@code PATH.KEY has type ...}) when
   *     the section or one of its values is missing or not of its type
   */
  public static <T> T read(Config root, String path, Function<Config, T> read) {
    Config section;
    try {
      section = root.getConfig(path);
    } catch (ConfigException e) {
      throw new IllegalArgumentException(describe("", e), e);
    }
    try {
      return read.apply(section);
    } catch (ConfigException.BadValue | ConfigException.WrongType | ConfigException.Missing e) {
      // Only these name a key of the section; a parse error in a file the section names (an API keys file) names that file.
      throw new IllegalArgumentException(describe(path, e), e);
    }
  }

  /**
   * Typesafe Config's message of {@code e} in one line, without the value's origin, its key made
   * full by {@code section} (empty when the key read was already full).
   */
  public static String describe(String section, ConfigException e) {
    String message = e.getMessage();
    String origin = e.origin() == null ? null : e.origin().description() + ": ";
    if (origin != null && message.startsWith(origin)) message = message.substring(origin.length());
    // A bad value reads "Invalid value at 'KEY': WHY"; a wrong type or a missing key starts with the key itself.
    Matcher invalid = INVALID_VALUE.matcher(message);
    if (invalid.matches()) message = invalid.group(1) + ": " + invalid.group(2);
    else if (e instanceof ConfigException.Missing) message = message.replaceFirst("^No configuration setting found for key '([^']*)'", "$1: missing");
    return (section.isEmpty() ? "" : section + ".") + message.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /**
   * {@code value} of {@code key} when it is from {@code min} to {@code max}.
   *
   * @throws IllegalArgumentException {@code KEY must be from MIN to MAX (WHY), got VALUE}
   */
  public static long within(String key, long value, long min, long max, String why) {
    if (value < min || value > max)
      throw new IllegalArgumentException(key + " must be from " + min + " to " + max + (why.isEmpty() ? "" : " (" + why + ")")
          + ", got " + value);
    return value;
  }

  /**
   * {@code value} of {@code key} when it is positive.
   *
   * @throws IllegalArgumentException {@code KEY must be a positive duration, got MILLIS ms}
   */
  public static java.time.Duration positive(String key, java.time.Duration value) {
    if (value.isZero() || value.isNegative())
      throw new IllegalArgumentException(key + " must be a positive duration, got " + value.toMillis() + " ms");
    return value;
  }

  private ConfigSection() {}
}
