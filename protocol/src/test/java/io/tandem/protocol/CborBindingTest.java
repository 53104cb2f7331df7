package io.tandem.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.testkit.typed.javadsl.ActorTestKit;
import akka.actor.typed.javadsl.Adapter;
import akka.serialization.Serialization;
import akka.serialization.SerializationExtension;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Protocol's own reference.conf binds its messages to CBOR: no application.conf needed. */
class CborBindingTest {
  private static ActorTestKit kit;

  @BeforeAll
  static void start() {
    // Only the reference.conf files on the class path: what any assembly gets without configuring.
    kit = ActorTestKit.create("cbor", ConfigFactory.parseString("akka.actor.allow-java-serialization = off")
        .withFallback(ConfigFactory.defaultReference()));
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  @Test
  void aProtocolMessageGoesAsCborAndComesBackEqual() {
    Serialization ser = SerializationExtension.get(Adapter.toClassic(kit.system()));
    Counters counters = new Counters.Tally().tokens(Author.large, 3).counters();

    assertEquals("akka.serialization.jackson.JacksonCborSerializer", ser.findSerializerFor(counters).getClass().getName());
    byte[] bytes = ser.serialize(counters).get();
    int id = ser.findSerializerFor(counters).identifier();
    String manifest = akka.serialization.Serializers.manifestFor(ser.findSerializerFor(counters), counters);
    assertEquals(counters, ser.deserialize(bytes, id, manifest).get());
  }

  /** A chat prompt's template arguments cross the cluster as JSON values: template variables of any shape. */
  @Test
  void aChatPromptKeepsItsTemplateArgumentsOverCbor() {
    Serialization ser = SerializationExtension.get(Adapter.toClassic(kit.system()));
    Prompt prompt = Prompt.chat(java.util.List.of(new ChatMessage("user", "2 + 2?"), new ChatMessage("assistant", "It is")),
        ChatTemplateArgs.of(false, true, java.util.Map.of("enable_thinking", false, "tools",
            java.util.List.of(java.util.Map.of("type", "function", "function", java.util.Map.of("name", "f", "strict", 1))))));
    byte[] bytes = ser.serialize(prompt).get();
    int id = ser.findSerializerFor(prompt).identifier();
    String manifest = akka.serialization.Serializers.manifestFor(ser.findSerializerFor(prompt), prompt);
    assertEquals(prompt, ser.deserialize(bytes, id, manifest).get());
  }
}
