package io.tandem.inference.scripted;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Synthetic scripts shaped like a reasoning model's output: paragraphs separated by "\n\n", each
 * opening with a word that reasoning models use to reflect ("Wait", "Yes", "Let me verify", ...),
 * ending in a boxed answer. For benchmarks and simulations; deterministic per seed.
 */
public final class ScriptGenerator {

  private static final String[] OPENERS = {
    "So", "Then", "Now", "First", "Therefore", "Next", "Hmm", "Wait", "Alternatively", "Yes", "Let me verify", "Hold on"
  };
  private static final double[] WEIGHTS = {0.2, 0.15, 0.12, 0.08, 0.08, 0.08, 0.06, 0.08, 0.04, 0.05, 0.04, 0.02};
  private static final String[] WORDS = {
    " the", " sum", " is", " we", " get", " x", " equals", " two", " three", " so", " of", " value", " plus", " times"
  };

  /** About {@code tokens} tokens in paragraphs of {@code minWords}..{@code maxWords} words. */
  public static List<String> generate(long seed, int tokens, int minWords, int maxWords, boolean upper) {
    SplittableRandom rnd = new SplittableRandom(seed);
    List<String> out = new ArrayList<>();
    while (out.size() < tokens) {
      String opener = pick(rnd);
      for (String part : opener.split("(?= )")) out.add(upper ? part.toUpperCase() : part);
      out.add(",");
      int n = minWords + rnd.nextInt(maxWords - minWords + 1);
      for (int i = 0; i < n; i++) {
        String w = WORDS[rnd.nextInt(WORDS.length)];
        out.add(upper ? w.toUpperCase() : w);
      }
      out.add(".\n\n");
    }
    out.add("The");
    out.add(" answer");
    out.add(" is");
    out.add(" \\boxed{");
    out.add("42");
    out.add("}.");
    return out;
  }

  private static String pick(SplittableRandom rnd) {
    double r = rnd.nextDouble(), acc = 0;
    for (int i = 0; i < OPENERS.length; i++) {
      acc += WEIGHTS[i];
      if (r < acc) return OPENERS[i];
    }
    return OPENERS[0];
  }

  private ScriptGenerator() {}
}
