package io.tandem.protocol.config;

import java.util.function.UnaryOperator;

/**
 * A speculative config that cannot be used: a misspelt key, a value of the wrong type or out of
 * range. The message names the source (file, request) and the key, e.g. {@code speculative.yaml:
 * max_target_tokens must be >= 1, got -3}.
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

  /** Where the config came from: a file name, {@code "request"}, ... */
  public String source() {
    return source;
  }

  /** The offending key, as the source spells it. */
  public String key() {
    return key;
  }
}
