package io.tandem.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

class SpeculativeConfigTest {

  @Test
  void aConfigSurvivesAJacksonRoundTripAsMessagesCarryIt() throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    SpeculativeConfig c = SpeculativeConfig.paperDefaults().withOverrides(java.util.Map.of("help_think_word", "Hmm"));

    String json = mapper.writeValueAsString(c);

    assertEquals(c, mapper.readValue(json, SpeculativeConfig.class));
  }

  /** YAML and HOCON take a {@code \\u} escape of half an emoji, which no UTF-8 output holds (tester53c: injected as "?"). */
  @Test
  void aLoneSurrogateIsRefusedNamingItsKey() {
    InvalidConfigException think = assertThrows(InvalidConfigException.class,
        () -> PaperConfigLoader.parseYaml("help_think_word: \"\\ud83d\"\n", "s.yml"));
    assertEquals("s.yml: help_think_word holds a lone UTF-16 surrogate (\\uD83D without its pair), which no text can hold;"
        + " write the character whole (an emoji as itself, or as its two \\u escapes together)", think.getMessage());
    InvalidConfigException trigger = assertThrows(InvalidConfigException.class,
        () -> SpeculativeConfig.fromHocon(ConfigFactory.parseString("tandem.speculative.trigger-tokens = [\"a\\ude42\"]")));
    assertEquals(true, trigger.getMessage().contains("trigger-tokens holds a lone UTF-16 surrogate (\\uDE42"), trigger.getMessage());
    assertEquals("\ud83d\ude42", PaperConfigLoader.parseYaml("help_think_word: \"\\ud83d\\ude42\"\n", "s.yml").config()
        .helpThinkWord(), "a pair is one character");
  }

  @Test
  void anEmptyKeywordIsRefusedBecauseItWouldMatchEverywhere() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> PaperConfigLoader.parseYaml("TARGET_VALIDATION_KEYWORDS:\n  verify: [\"\"]\n", "s.yml"));
    assertEquals(
        "s.yml: TARGET_VALIDATION_KEYWORDS.verify must not contain empty or null entries, got [\"\"]",
        e.getMessage());
  }

  @Test
  void noTriggerAtAllIsRefused() {
    InvalidConfigException e =
        assertThrows(
            InvalidConfigException.class,
            () -> SpeculativeConfig.fromHocon(ConfigFactory.parseString("tandem.speculative.trigger-tokens = []")));
    assertEquals(List.of("tandem.speculative.trigger-tokens"), List.of(e.key()));
  }
}
