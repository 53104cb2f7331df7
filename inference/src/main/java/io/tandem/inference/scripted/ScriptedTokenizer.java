package io.tandem.inference.scripted;

import io.tandem.inference.TextTokenizer;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The vocabulary of scripted models: every text is exactly one token. Ids are derived from the
 * text itself (its hash), so they agree across scripted models and across JVMs, and token ids can
 * pass between two scripted workers on different nodes.
 */
public final class ScriptedTokenizer implements TextTokenizer {

  /** End of sequence: the empty text. */
  public static final int EOS = 0;

  /** The vocabulary key of every scripted model: they all share one vocabulary. */
  public static final String KEY = "scripted";

  private static final ScriptedTokenizer INSTANCE = new ScriptedTokenizer();
  private static final ConcurrentHashMap<Integer, String> TEXTS = new ConcurrentHashMap<>();

  /** The one scripted vocabulary. */
  public static ScriptedTokenizer instance() {
    return INSTANCE;
  }

  private ScriptedTokenizer() {}

  /** The id of a token text, registering it. */
  public static int idOf(String text) {
    if (text == null || text.isEmpty())
      throw new IllegalArgumentException("a scripted token cannot be empty (the empty text is end-of-sequence)");
    int id = text.hashCode() & 0x7fffffff;
    if (id == EOS) id = 1;
    String known = TEXTS.putIfAbsent(id, text);
    if (known != null && !known.equals(text))
      throw new IllegalStateException(
          "scripted tokens '" + known + "' and '" + text + "' hash to the same id " + id + "; rename one");
    return id;
  }

  @Override
  public void learn(int id, String text) {
    if (id != EOS && !text.isEmpty() && idOf(text) != id)
      throw new IllegalArgumentException("scripted token '" + text + "' has id " + idOf(text) + ", not " + id);
  }

  @Override
  public String key() {
    return KEY;
  }

  /** Any text, however long, is one token: that is how injected words land in a script. */
  @Override
  public int[] encode(String text) {
    if (text.isEmpty()) return new int[0];
    return new int[] {idOf(text)};
  }

  @Override
  public String decode(int[] ids) {
    StringBuilder sb = new StringBuilder();
    for (int id : ids) {
      if (id == EOS) continue;
      String t = TEXTS.get(id);
      if (t == null) throw new IllegalArgumentException("unknown scripted token id " + id);
      sb.append(t);
    }
    return sb.toString();
  }

  @Override
  public boolean isSpecial(int id) {
    return id == EOS;
  }
}
