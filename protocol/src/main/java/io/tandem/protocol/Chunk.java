package io.tandem.protocol;

import java.util.List;

/**
 * A run of session tokens produced under one vocabulary. A worker whose tokenizer has the same key
 * appends the ids as they are; any other worker re-encodes the text.
 */
public record Chunk(String tokenizerKey, List<Token> tokens) implements CborSerializable {
  public Chunk {
    tokens = List.copyOf(tokens);
  }

  public String text() {
    StringBuilder sb = new StringBuilder();
    for (Token t : tokens) sb.append(t.text());
    return sb.toString();
  }
}
