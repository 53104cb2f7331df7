package io.tandem.protocol.config;

import java.util.Collection;
import java.util.Locale;

/** "did you mean ...?" for misspelt config keys (and a request's misspelt fields). */
public final class KeySuggestions {
  /** Keys longer than this are near no name (every known key is far shorter). */
  private static final int LONGEST_NEAR = 200;

  private KeySuggestions() {}

  /** The message for an unknown key, with the nearest known key when one is close enough. */
  static String unknownKey(String key, Collection<String> known) {
    return unknownKey(key, nearest(key, known), known);
  }

  /**
   * {@code unknown key 'KEY' (did you mean MEANT?)} (a long KEY {@link io.tandem.protocol.text.Clipped clipped}), or, when nothing is near ({@code meant} null),
   * {@code unknown key 'KEY' (known keys: LISTED)}, {@code listed} being the keys beside it.
   */
  static String unknownKey(String key, String meant, Collection<String> listed) {
    // A key written as a setting's name is not repeated (tester51f: tandem.http."sk-..." = 1).
    String message = "unknown key '" + io.tandem.protocol.text.Secrets.redact(io.tandem.protocol.text.Clipped.of(key)) + "'";
    if (meant != null) return message + " (did you mean " + meant + "?)";
    return message + " (known keys: " + String.join(", ", listed) + ")";
  }

  /**
   * The one of {@code names} fewest edits from {@code typed} (case aside; the first of a tie), when it
   * is at most a quarter as many edits as {@code typed} has letters after the start the two share
   * (two for a short stretch, as {@code prot} is from {@code port}); null when none is. The start
   * they share does not count, so that a long common section does not make any name in it near:
   * {@code tandem.speculative.foo} is five edits from {@code tandem.speculative.begin}, a quarter
   * of its 22 letters, but all five of {@code foo}'s.
   */
  public static String nearest(String typed, Collection<String> names) {
    // A key far longer than any name is near none, and measuring it would cost its length times theirs.
    if (typed.length() > LONGEST_NEAR) return null;
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    String t = typed.toLowerCase(Locale.ROOT);
    for (String candidate : names) {
      int d = distance(t, candidate.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    if (best == null) return null;
    return bestDistance <= Math.max(2, (t.length() - sharedStart(t, best.toLowerCase(Locale.ROOT))) / 4) ? best : null;
  }

  /** How many letters {@code a} and {@code b} share at their start. */
  private static int sharedStart(String a, String b) {
    int n = 0;
    while (n < a.length() && n < b.length() && a.charAt(n) == b.charAt(n)) n++;
    return n;
  }

  /** Levenshtein distance. */
  static int distance(String a, String b) {
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) previous[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return previous[b.length()];
  }
}
