import type { ComponentApi } from '../../shared/wechat/api-client';

/**
 * A `ComponentApi` made of the given methods; any other method fails the test when called. Deadlines
 * (`within`) return the same fake (these fakes answer at once) and are reported to `onWithin`.
 */
export function fakeComponentApi(
  methods: Partial<ComponentApi> = {},
  options: { onWithin?: (budgetMs: number) => void } = {}
): ComponentApi {
  const api: ComponentApi = new Proxy(methods as ComponentApi, {
    get(target, name: string | symbol) {
      if (name === 'within') {
        return (budgetMs: number) => {
          options.onWithin?.(budgetMs);
          return api;
        };
      }
      const method = (target as unknown as Record<string | symbol, unknown>)[name];
      if (method !== undefined || typeof name === 'symbol') return method;
      return () => Promise.reject(new Error(`unexpected WeChat call: ${name}`));
    },
  });
  return api;
}
