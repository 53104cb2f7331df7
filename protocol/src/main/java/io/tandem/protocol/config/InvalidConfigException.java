package io.tandem.protocol.config;

/**
 * A speculative config that cannot be used: a misspelt key, a value of the wrong type or out of
 * range. The message names the source (file, request) and the key.
 */
public final class InvalidConfigException extends IllegalArgumentException {
  private final String source;
  private final String key;

  public InvalidConfigException(String source, String key, String problem) {
    super(source + ": " + problem);
    this.source = source;
    this.key = key;
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
