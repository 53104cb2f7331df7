package io.tandem.protocol;

/** One generated or injected token: its id in the vocabulary that produced it, and its text. */
public record Token(int id, String text) implements CborSerializable {
  public Token {
    if (text == null) text = "";
  }
}
