package io.tandem.protocol.config;

import java.util.function.UnaryOperator;

/**
 * A configuration that cannot be used: a misspelt key, a value of the wrong type or out of range.
 * The message names the key and, for a speculative config or a misspelt key, the source (file,
 * request) first, e.g. {@code speculative.yaml: max_target_tokens must be >= 1, got -3}; a node
 * setting read through {@link ConfigSection} is named by its full key alone ({@code tandem.http.port
 * must be a number, got the string "x"}). The launcher answers one that names its key as a mistake
 * in what it was given (exit status 2), not as a failure while running; a file that is not YAML
 * names no key.
 */
public final class InvalidConfigException extends IllegalArgumentException {
  private final String source;
  private final String key;
  /** For a bad value: what follows the key in the message; null otherwise. */
  private final String complaint;

  /**
   * @param source where the config came from, e.g. a file name or {@code "request"}
   * @param key the offending key as the source spells it; null when the problem is not one key's
   * @param problem what is wrong, for the message after {@code "source: "}
   */
  public InvalidConfigException(String source, String key, String problem) {
    this(source, key, problem, null);
  }

  private InvalidConfigException(String source, String key, String problem, String complaint) {
    super(source + ": " + problem);
    this.source = source;
    this.key = key;
    this.complaint = complaint;
  }

  private InvalidConfigException(String key, String message, Throwable cause) {
    super(message, cause);
    this.source = null;
    this.key = key;
    this.complaint = null;
  }

  /**
   * A node setting that cannot be used.
   *
   * @param key the setting, or the section that holds it ({@code tandem.small}) where the message
   *     names the setting itself
   * @param message the full key, what is wrong and what it takes, in one line ({@code
   *     tandem.http.port must be from 0 to 65535 (0 picks a free one), got 70000})
   * @param cause what refused it (Typesafe Config's exception), or null
   */
  public static InvalidConfigException setting(String key, String message, Throwable cause) {
    return new InvalidConfigException(key, message, cause);
  }

  /** A bad value of {@code key}: the message is {@code "source: key complaint"}. */
  static InvalidConfigException badValue(String source, String key, String complaint) {
    return new InvalidConfigException(source, key, key + " " + complaint, complaint);
  }

  /**
   * This error as {@code source} tells it, with the key spelt by {@code keyStyle} (a HOCON loader
   * says {@code max-target-tokens} where the paper says {@code max_target_tokens}).
   */
  InvalidConfigException as(String source, UnaryOperator<String> keyStyle) {
    if (complaint == null) return this;
    return badValue(source, keyStyle.apply(key), complaint);
  }

  /** Where the config came from: a file name, {@code "request"}, ...; null for a {@link #setting}. */
  public String source() {
    return source;
  }

  /**
   * The offending key, as the source spells it (for a {@link #setting}, it or its section); null
   * when the problem is no key's (a file that is not YAML).
   */
  public String key() {
    return key;
  }
}
