package io.tandem.inference.text.jinja;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.RejectFilter;
import com.hubspot.jinjava.lib.filter.SelectFilter;
import java.util.Map;

/**
 * {@code select} with Jinja2's default: given no test, it keeps the truthy items, as Jinja2's {@code select} does
 * ({@code [1, none]|select}); Jinjava's requires a test's name.
 */
public final class PySelectFilter extends SelectFilter {

  private static final Object[] TRUTHY = {"truthy"};

  @Override
  public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
    return super.filter(var, interpreter, args.length == 0 ? TRUTHY : args, kwargs);
  }

  /** {@code reject} with Jinja2's default: given no test, it drops the truthy items. */
  public static final class Reject extends RejectFilter {
    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
      return super.filter(var, interpreter, args.length == 0 ? TRUTHY : args, kwargs);
    }
  }
}
