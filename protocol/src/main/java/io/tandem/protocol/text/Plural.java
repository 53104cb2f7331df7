package io.tandem.protocol.text;

/** A count as messages and logs write it, the noun in the singular for one: "1 request", "2 requests". */
public final class Plural {
  private Plural() {}

  /** {@code n} and {@code noun}, with an s for any count but one: {@code 1 request}, {@code 0 requests}. */
  public static String count(long n, String noun) {
    return n + " " + (n == 1 ? noun : noun + "s");
  }
}
