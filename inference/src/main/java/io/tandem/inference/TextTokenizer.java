package io.tandem.inference;

/** Text to token ids and back, for one model's vocabulary. */
public interface TextTokenizer {

  /**
   * Identifies the vocabulary: two tokenizers with the same key produce the same ids for the same
   * text, so token ids can pass between their models without re-encoding.
   */
  String key();

  /** Encodes text without adding special tokens. */
  int[] encode(String text);

  /**
   * Encodes text, with {@code addSpecialTokens} the special tokens the tokenizer adds around a text
   * as Hugging Face's {@code tokenizer(text)} does ({@code add_special_tokens=True}; a BOS, for
   * some), as vLLM tokenizes a completion's text prompt. A vocabulary without such tokens adds none.
   */
  default int[] encode(String text, boolean addSpecialTokens) {
    return encode(text);
  }

  /** Decodes ids to text, dropping special tokens. */
  String decode(int[] ids);

  /**
   * Decodes ids to text; with {@code skipSpecialTokens} false, special tokens appear as their text
   * (Hugging Face's {@code decode(ids, skip_special_tokens=False)}, its default). A vocabulary
   * without special tokens decodes as {@link #decode(int[])}.
   */
  default String decode(int[] ids, boolean skipSpecialTokens) {
    return decode(ids);
  }

  /** Whether an id is a special token (dropped from decoded text). */
  boolean isSpecial(int id);

  /**
   * A token of this vocabulary written by another worker (possibly in another JVM) arrives with its
   * text; a vocabulary that builds itself as it goes (scripted models) learns it here.
   */
  default void learn(int id, String text) {}
}
