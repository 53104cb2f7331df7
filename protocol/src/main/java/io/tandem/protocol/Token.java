package io.tandem.protocol;

import java.util.List;

/** One generated or injected token: its id in the vocabulary that produced it, and its text. */
public record Token(int id, String text) implements CborSerializable {
  /** A null text counts as empty (an eos token has none). */
  public Token {
    if (text == null) text = "";
  }

  /** The text of {@code tokens}, in order: the one way a run of tokens becomes text. */
  public static String concat(List<Token> tokens) {
    StringBuilder sb = new StringBuilder();
    for (Token t : tokens) sb.append(t.text());
    return sb.toString();
  }
}
