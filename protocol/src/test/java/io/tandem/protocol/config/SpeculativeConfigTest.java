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
