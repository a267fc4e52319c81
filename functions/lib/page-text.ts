import type { PageLanguage } from './page-language';

/**
 * Every sentence of the merchant pages, in each page language. Arguments are already HTML-escaped; the
 * results are HTML fragments. `p` is the platform's display name (or "this platform").
 */
export interface PageText {
  /** Stands for the platform when no `PLATFORM_DISPLAY_NAME` is set. */
  thisPlatform: string;
  startAgain: string;
  /** Introduces the service's own message (in English) under an error. */
  details: string;
  entry: {
    title: (p: string) => string;
    lead: (p: string) => string;
    pc: string;
    h5: string;
    expires: (minutes: number) => string;
  };
  authorized: {
    title: string;
    account: (account: string, p: string) => string;
    permissions: string;
    close: string;
  };
  withoutApi: {
    title: string;
    account: (account: string, p: string) => string;
    todo: string;
    steps: readonly string[];
  };
  /** "「name」（appid）" or "the account appid": how a linked account is named. */
  accountName: (nickName: string | undefined, appId: string) => string;
  expired: { title: string; body: string };
  pending: { title: string; body: string };
  busy: {
    title: string;
    entry: string;
    callback: string;
    dayTitle: string;
    day: (p: string) => string;
  };
  errors: Record<ErrorKind, { title: string; body: (p: string) => string }>;
}

/** How an error page explains itself (see `errorKind` in `pages.ts`). */
export type ErrorKind = 'invalid' | 'notReady' | 'wechatBusy' | 'unavailable';

const zh: PageText = {
  thisPlatform: '本平台',
  startAgain: '开始重新授权',
  details: '详情：',
  entry: {
    title: (p) => `授权给${p}`,
    lead: (p) =>
      `请用公众号或小程序管理员的微信确认授权。授权后，${p}可以在你勾选的权限范围内代你的帐号调用微信接口。`,
    pc: '在电脑上授权（微信扫码）',
    h5: '在手机微信中授权',
    expires: (minutes) => `授权链接只能使用一次，约 ${minutes} 分钟后失效；刷新本页可获得新链接。`,
  },
  authorized: {
    title: '授权成功',
    account: (account, p) => `${account}已授权给${p}。`,
    permissions: '已授权的权限集：',
    close: '现在可以关闭此页面。',
  },
  withoutApi: {
    title: '已授权，但该帐号没有接口权限',
    account: (account, p) =>
      `${account}已授权给${p}，但该帐号目前没有接口（API）权限，所以微信没有为它签发接口调用凭证，${p}暂时无法代它调用微信接口。`,
    todo: '管理员可以：',
    steps: [
      '登录微信公众平台（mp.weixin.qq.com），在「设置与开发 → 接口权限」中查看该帐号的接口权限；',
      '接口权限取决于帐号类型和认证状态，如需接口权限，请先完成微信认证；',
      '完成后回到这里重新授权。',
    ],
  },
  accountName: (nickName, appId) =>
    nickName ? `「${nickName}」（<code>${appId}</code>）` : `帐号 <code>${appId}</code> `,
  expired: {
    title: '授权链接已失效',
    body: '这个授权链接已过期或已被使用过，请重新开始授权。',
  },
  pending: {
    title: '已收到授权',
    body: '微信已确认你的授权，我们正在完成最后一步，并会在几分钟内自动重试。你无需再做任何操作。',
  },
  busy: {
    title: '访问人数较多，请一分钟后再试',
    entry: '为保护平台的微信接口调用额度，每分钟只能处理有限次数的授权请求。请在一分钟后刷新本页。',
    callback: '你的授权可能已经通过微信的通知完成。请在一分钟后刷新本页查看结果。',
    dayTitle: '今天的授权请求已达上限',
    day: (p) => `为保护平台的微信接口调用额度，今天不再处理新的授权请求。请明天再试，或联系${p}。`,
  },
  errors: {
    invalid: {
      title: '链接无效',
      body: () => '这个链接不完整或已被修改。请从平台提供的授权入口重新开始。',
    },
    notReady: {
      title: '服务尚未就绪',
      body: () => '平台正在等待微信推送验证票据（component_verify_ticket），请几分钟后再试。',
    },
    wechatBusy: {
      title: '微信暂时繁忙',
      body: () => '微信暂时无法处理这个请求，请稍后再试。',
    },
    unavailable: {
      title: '服务暂时不可用',
      body: (p) => `请稍后再试。如果问题持续，请联系${p}。`,
    },
  },
};

const en: PageText = {
  thisPlatform: 'this platform',
  startAgain: 'Start again',
  details: 'Details: ',
  entry: {
    title: (p) => `Authorize ${p} on WeChat`,
    lead: (p) =>
      `The administrator of your official account or mini program confirms the authorization in WeChat. Once authorized, ${p} can call WeChat’s APIs for the account, within the permission sets selected.`,
    pc: 'Authorize on a computer (scan a QR code)',
    h5: 'Authorize in WeChat on a phone',
    expires: (minutes) =>
      `The link is single-use and expires in about ${minutes} minutes. Reload this page for a new one.`,
  },
  authorized: {
    title: 'Authorization complete',
    account: (account, p) => `${account} is now authorized for ${p}.`,
    permissions: 'Permission sets granted:',
    close: 'You can close this page.',
  },
  withoutApi: {
    title: 'Authorized, but the account has no API permission',
    account: (account, p) =>
      `${account} authorized ${p}, but the account has no API permission yet, so WeChat issued no API credentials for it and ${p} cannot call WeChat’s APIs for it.`,
    todo: 'What the administrator can do:',
    steps: [
      'Sign in to mp.weixin.qq.com and check the account’s API permissions (Settings and Development → API Permissions).',
      'API permissions depend on the account type and verification: complete WeChat verification if the account needs them.',
      'Then come back here and authorize again.',
    ],
  },
  accountName: (nickName, appId) =>
    nickName ? `${nickName} (<code>${appId}</code>)` : `The account <code>${appId}</code>`,
  expired: {
    title: 'This authorization link has expired',
    body: 'The link has expired or was already used. Start the authorization again.',
  },
  pending: {
    title: 'Authorization received',
    body: 'WeChat confirmed your authorization. We are completing it and will retry automatically in the next minutes; there is nothing more to do.',
  },
  busy: {
    title: 'Busy: try again in a minute',
    entry:
      'To protect the platform’s WeChat API quota, only a limited number of authorizations are handled each minute. Reload this page in a minute.',
    callback:
      'Your authorization may already have completed through WeChat’s notification. Reload this page in a minute to see the result.',
    dayTitle: 'No more authorizations today',
    day: (p) =>
      `To protect the platform’s WeChat API quota, no new authorizations are handled today. Try again tomorrow, or contact ${p}.`,
  },
  errors: {
    invalid: {
      title: 'This link is not valid',
      body: () =>
        'The link is incomplete or was changed. Start again from the platform’s authorization page.',
    },
    notReady: {
      title: 'Not ready yet',
      body: () =>
        'The platform is waiting for WeChat to push its verification ticket (component_verify_ticket). Try again in a few minutes.',
    },
    wechatBusy: {
      title: 'WeChat is busy',
      body: () => 'WeChat cannot handle this request right now. Try again later.',
    },
    unavailable: {
      title: 'Temporarily unavailable',
      body: (p) => `Try again later. If this persists, contact ${p}.`,
    },
  },
};

export const PAGE_TEXT: Readonly<Record<PageLanguage, PageText>> = { 'zh-CN': zh, en };
