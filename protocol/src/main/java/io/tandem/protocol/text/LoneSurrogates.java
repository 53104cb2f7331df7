package io.tandem.protocol.text;

/**
 * Finds half a character in a Java string: a UTF-16 surrogate without its pair, such as the escape
 * {@code "\\ud83d"} alone, which JSON, YAML and HOCON readers take but no UTF-8 text can hold (written
 * out it becomes {@code ?}, or fails the write). Every input that becomes text checks with this one rule:
 * a request's JSON, a speculative config's strings, a scripted case's and a script file's tokens.
 */
public final class LoneSurrogates {
  private LoneSurrogates() {}

  /**
   * The index of the first lone surrogate in {@code s}: a high surrogate not followed by a low one,
   * or a low one not after a high one; -1 when every surrogate is paired (or there is none).
   */
  public static int firstIn(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
      else if (Character.isSurrogate(c)) return i;
    }
    return -1;
  }

  /** Whether {@code s} holds a lone surrogate ({@link #firstIn} is not -1). */
  public static boolean in(String s) {
    return firstIn(s) >= 0;
  }
}
