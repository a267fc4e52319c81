import type { PageLanguage } from './page-language';

/**
 * WeChat's permission sets (权限集) by id, as `func_info[].funcscope_category.id` reports them, with the
 * Chinese name WeChat's authorization page shows and an English name for the English pages.
 *
 * Sources: the official lists of official-account and mini-program permission sets
 * (https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/product/offical_account_authority.html,
 * https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/product/miniprogram_authority.html),
 * and the `FuncscopeCategory` enum of Senparc.Weixin (JeffreySu/WeiXinMPSDK,
 * `src/Senparc.Weixin.Open/Senparc.Weixin.Open/Enums.cs`), the most complete SDK table, cross-checked with
 * chanxuehong/wechat (`component/authorizationInfo.go`, ids 1–26 and 41). WeChat adds sets over time: an id
 * missing here is shown by its number.
 */
const PERMISSION_SETS: Readonly<Record<number, readonly [zh: string, en: string]>> = {
  1: ['消息管理权限', 'Message management'],
  2: ['用户管理权限', 'User management'],
  3: ['帐号服务权限', 'Account services'],
  4: ['网页服务权限', 'Web page services'],
  5: ['微信小店权限', 'WeChat Store'],
  6: ['微信多客服权限', 'WeChat multi-agent customer service'],
  7: ['群发与通知权限', 'Broadcasts and notifications'],
  8: ['微信卡券权限', 'WeChat cards and coupons'],
  9: ['微信扫一扫权限', 'WeChat Scan'],
  10: ['微信连WIFI权限', 'Wi-Fi via WeChat'],
  11: ['素材管理权限', 'Media asset management'],
  12: ['微信摇周边权限', 'WeChat Shake Nearby'],
  13: ['微信门店权限', 'WeChat stores (locations)'],
  14: ['微信支付权限', 'WeChat Pay'],
  15: ['自定义菜单权限', 'Custom menu'],
  16: ['获取认证状态及信息', 'Verification status and details'],
  17: ['帐号管理权限（小程序）', 'Account management (mini program)'],
  18: [
    '开发管理与数据分析权限（小程序）',
    'Development management and data analysis (mini program)',
  ],
  19: ['客服消息管理权限（小程序）', 'Customer service messages (mini program)'],
  20: ['微信登录权限（小程序）', 'WeChat login (mini program)'],
  21: ['数据分析权限（小程序）', 'Data analysis (mini program)'],
  22: ['城市服务接口权限', 'City services API'],
  23: ['广告管理权限', 'Advertising management'],
  24: ['开放平台帐号管理权限', 'Open Platform account management'],
  25: ['开放平台帐号管理权限（小程序）', 'Open Platform account management (mini program)'],
  26: ['微信电子发票权限', 'WeChat e-invoices'],
  27: ['快速注册小程序权限', 'Fast mini-program registration'],
  30: ['小程序基本信息设置权限', 'Mini-program basic information'],
  31: ['小程序认证名称检测权限', 'Mini-program verification name check'],
  33: ['小程序管理权限', 'Mini-program management'],
  34: ['微信商品库权限', 'WeChat product library'],
  35: ['微信卡路里权限（公众号）', 'WeChat calories (official account)'],
  36: ['微信卡路里权限（小程序）', 'WeChat calories (mini program)'],
  37: ['小程序附近地点权限', 'Mini-program nearby locations'],
  40: ['小程序插件管理权限', 'Mini-program plug-in management'],
  41: ['好物圈管理权限', 'Good Things Circle management'],
  44: ['好物圈权限', 'Good Things Circle'],
  45: ['微信物流服务权限', 'WeChat logistics services'],
  46: ['微信一物一码权限', 'WeChat one-item-one-code'],
  47: ['微信财政电子票据权限', 'WeChat fiscal e-receipts'],
  48: ['微信财政电子票据管理权限', 'WeChat fiscal e-receipt management'],
  49: ['云开发管理权限', 'Cloud development management'],
  51: ['即时配送权限', 'Instant delivery'],
  52: ['小程序直播权限', 'Mini-program live streaming'],
  54: ['服务号对话权限', 'Service account conversations'],
  65: ['广告管理权限（小程序）', 'Advertising management (mini program)'],
  66: ['服务平台管理权限', 'Service platform management'],
  67: ['服务平台管理权限（小程序）', 'Service platform management (mini program)'],
  70: ['商品管理权限', 'Product management'],
  71: ['订单与物流管理权限', 'Orders and logistics management'],
  73: ['标准版交易组件接入权限', 'Standard transaction component'],
  76: ['违规和申诉管理权限', 'Violations and appeals management'],
  81: ['快速体验小程序权限', 'Quick trial mini programs'],
  84: ['优惠券权限', 'Coupons'],
  85: ['自定义版交易组件权限', 'Custom transaction component'],
  86: ['小商店装修权限', 'Mini shop decoration'],
  88: ['获取小程序链接权限', 'Mini-program links'],
  89: ['订阅通知权限', 'Subscription notifications'],
  93: ['小程序联盟权限', 'Mini-program alliance'],
  99: ['云开发短信服务权限', 'Cloud development SMS'],
  102: ['云开发微信支付权限', 'Cloud development WeChat Pay'],
  104: ['标准版组件资金链路权限', 'Standard component funds flow'],
  105: ['城市服务权限', 'City services'],
  107: ['连接器电商场景接入权限', 'Connector e-commerce access'],
  112: ['红包封面管理权限', 'Red packet cover management'],
  116: ['获取自定义版交易组件数据权限', 'Custom transaction component data'],
  117: ['小程序图像处理权限', 'Mini-program image processing'],
  118: ['硬件服务权限', 'Hardware services'],
  119: ['小程序支付管理服务权限', 'Mini-program payment management'],
  120: ['小程序购物订单权限', 'Mini-program shopping orders'],
  121: ['公众号购物订单权限', 'Official-account shopping orders'],
  129: ['视频号小店商品管理权限', 'Channels store product management'],
  130: ['视频号小店物流管理权限', 'Channels store logistics management'],
  131: ['视频号小店订单与售后管理权限', 'Channels store orders and after-sales'],
  132: ['视频号小店优惠券管理权限', 'Channels store coupon management'],
  133: ['视频号商品橱窗管理权限', 'Channels product showcase management'],
  135: ['流量主代运营权限', 'Ad publisher operation on behalf'],
  138: ['视频号小店资金管理权限', 'Channels store funds management'],
  139: ['小程序运费险权限', 'Mini-program shipping insurance'],
  140: ['小程序推广员权限', 'Mini-program promoters'],
  141: ['视频号小店优选联盟权限', 'Channels store affiliate alliance'],
  142: ['小程序发货管理服务权限', 'Mini-program shipping management'],
  144: ['微信学生身份验证权限', 'WeChat student verification'],
  151: ['小程序交易保障权限', 'Mini-program transaction protection'],
  153: ['微短剧小程序资源管理权限', 'Mini-drama mini-program resources'],
  156: ['小程序备案服务权限', 'Mini-program ICP filing'],
  157: ['小程序虚拟支付管理权限', 'Mini-program virtual payments'],
  159: ['视频号电子面单管理权限', 'Channels electronic waybills'],
  161: ['微信客服管理权限', 'WeChat customer service management'],
};

const UNKNOWN = {
  'zh-CN': (id: number) => `权限集 ${id}`,
  en: (id: number) => `Permission set ${id}`,
} satisfies Record<PageLanguage, (id: number) => string>;

/** The name of permission set `id` in `lang`; a set this table does not know is shown by its number. */
export function permissionSetName(id: number, lang: PageLanguage): string {
  const names = PERMISSION_SETS[id];
  if (!names) return UNKNOWN[lang](id);
  return lang === 'en' ? names[1] : names[0];
}
