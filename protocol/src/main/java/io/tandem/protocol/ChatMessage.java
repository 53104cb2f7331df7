package io.tandem.protocol;

/** One chat message as the OpenAI API carries it: role ({@code system|user|assistant}) and content. */
public record ChatMessage(String role, String content) implements CborSerializable {
  /** @throws IllegalArgumentException when the role is missing; a null content counts as empty */
  public ChatMessage {
    if (role == null || role.isBlank()) throw new IllegalArgumentException("chat message has no role");
    if (content == null) content = "";
  }
}
