package io.tandem.protocol.text;

/**
 * What a message quotes of a value a client or an operator sent: its first 64 characters, then
 * {@code ...}, so that an answer or a log line never echoes a megabyte back.
 */
public final class Clipped {
  /** The most characters quoted. */
  public static final int LENGTH = 64;

  private Clipped() {}

  /** {@code s} as quoted: itself when short, else its first {@value #LENGTH} characters and {@code ...}; "null" for null. */
  public static String of(String s) {
    if (s == null) return "null";
    return s.length() > LENGTH ? s.substring(0, LENGTH) + "..." : s;
  }
}
