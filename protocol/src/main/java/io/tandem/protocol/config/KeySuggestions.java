package io.tandem.protocol.config;

import java.util.Collection;
import java.util.Locale;

/** "did you mean ...?" for misspelt config keys. */
final class KeySuggestions {
  private KeySuggestions() {}

  /** The message for an unknown key, with the nearest known key when one is close enough. */
  static String unknownKey(String key, Collection<String> known) {
    return unknownKey(key, known, known);
  }

  /**
   * As {@link #unknownKey(String, Collection)}, suggesting the nearest of {@code known} and
   * listing {@code listed} (the keys beside {@code key}) when none is near.
   */
  static String unknownKey(String key, Collection<String> known, Collection<String> listed) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : known) {
      int d = distance(key.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    String message = "unknown key '" + key + "'";
    if (best != null && bestDistance <= Math.max(2, key.length() / 4)) {
      return message + " (did you mean " + best + "?)";
    }
    return message + " (known keys: " + String.join(", ", listed) + ")";
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
