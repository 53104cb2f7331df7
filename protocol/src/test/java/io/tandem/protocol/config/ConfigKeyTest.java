package io.tandem.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The one key table agrees with the paper's files and with reference.conf. */
class ConfigKeyTest {

  @Test
  void thePaperHasSeventeenTopLevelKeysWithTheKeywordGroupsNested() {
    assertEquals(17, ConfigKey.paperTopLevel().size());
    assertEquals(List.of("verify", "negative", "positive"), ConfigKey.keywordGroups());
  }

  @Test
  void everyHoconKeyHasItsDefaultInReferenceConfAndNoDefaultIsWithoutAKey() {
    Set<String> defaults = ConfigFactory.defaultReference().getConfig(HoconConfigLoader.PATH).root().keySet();
    assertEquals(Set.copyOf(ConfigKey.hoconKeys()), defaults);
  }

  @Test
  void aHoconErrorNamesTheKeyAsHoconSpellsIt() {
    InvalidConfigException e = org.junit.jupiter.api.Assertions.assertThrows(InvalidConfigException.class,
        () -> SpeculativeConfig.fromHocon(ConfigFactory.parseString("tandem.speculative.add-each-neg = -1")));
    assertEquals("tandem.speculative.add-each-neg", e.key());
    assertEquals(e.source() + ": tandem.speculative.add-each-neg must be >= 0, got -1", e.getMessage());
  }
}
