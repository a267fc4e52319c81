import type { FuncInfo } from './wire';

/**
 * The permission-set ids (权限集) of a `func_info` list, the part of it the service keeps. Malformed entries
 * are skipped rather than trusted.
 *
 * @see https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html
 */
export function permissionIds(
  funcInfo: readonly (Partial<FuncInfo> | undefined)[] | undefined
): number[] {
  return (funcInfo ?? [])
    .map((item) => item?.funcscope_category?.id)
    .filter((id): id is number => typeof id === 'number');
}
