package io.tandem.protocol.config;

import java.util.Collection;
import java.util.Locale;

/** "did you mean ...?" for misspelt config keys. */
final class KeySuggestions {
  private KeySuggestions() {}

  /** The message for an unknown key, with the nearest known key when one is close enough. */
  static String unknownKey(String key, Collection<String> known) {
    return unknownKey(key, nearest(key, known), known);
  }

  /**
   * {@code unknown key 'KEY' (did you mean MEANT?)}, or, when nothing is near ({@code meant} null),
   * {@code unknown key 'KEY' (known keys: LISTED)}, {@code listed} being the keys beside it.
   */
  static String unknownKey(String key, String meant, Collection<String> listed) {
    String message = "unknown key '" + key + "'";
    if (meant != null) return message + " (did you mean " + meant + "?)";
    return message + " (known keys: " + String.join(", ", listed) + ")";
  }

  /**
   * The one of {@code names} fewest edits from {@code typed} (case aside; the first of a tie), when it
   * is at most a quarter of {@code typed}'s letters away (two for a short name, as {@code prot} is
   * from {@code port}); null when none is.
   */
  static String nearest(String typed, Collection<String> names) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : names) {
      int d = distance(typed.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    return best != null && bestDistance <= Math.max(2, typed.length() / 4) ? best : null;
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
