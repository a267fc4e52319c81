import { describe, expect, it } from 'vitest';
import { isPhone, pageLanguage } from '../../../functions/lib/page-language';

describe('pageLanguage (Accept-Language)', () => {
  it.each([
    [undefined, 'zh-CN'],
    ['', 'zh-CN'],
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh-CN'],
    ['en-US,en;q=0.9', 'en'],
    ['en-US,en;q=0.9,zh-CN;q=0.8,zh;q=0.7', 'en'],
    ['zh-TW,zh;q=0.9,en-US;q=0.8', 'zh-CN'],
    ['EN-gb', 'en'],
    ['zh-Hans-CN;q=0.5, en;q=0.6', 'en'],
    ['fr-FR,fr;q=0.9', 'zh-CN'],
    ['fr-FR,fr;q=0.9,en;q=0.5', 'en'],
  ])('%j → %s', (header, expected) => {
    expect(pageLanguage(header)).toBe(expected);
  });

  it('weighs by q, not by position', () => {
    expect(pageLanguage('zh;q=0.4, en;q=0.5')).toBe('en');
    expect(pageLanguage('en;q=0.4, zh;q=0.5')).toBe('zh-CN');
    expect(pageLanguage('en;q=0.800, zh;q=0.799')).toBe('en');
  });

  it('breaks a tie in q by the order the browser listed them', () => {
    expect(pageLanguage('en-US, zh-CN')).toBe('en');
    expect(pageLanguage('zh-CN, en-US')).toBe('zh-CN');
    expect(pageLanguage('en;q=0.7, zh;q=0.7')).toBe('en');
  });

  it('takes the best weight of any range with the same primary subtag', () => {
    expect(pageLanguage('zh-CN;q=0.2, en;q=0.5, zh;q=0.9')).toBe('zh-CN');
    expect(pageLanguage('en-GB;q=0.1, zh;q=0.5, en-US;q=0.9')).toBe('en');
  });

  it('treats q=0 as "not acceptable"', () => {
    expect(pageLanguage('en;q=0')).toBe('zh-CN');
    expect(pageLanguage('zh;q=0, en;q=0.1')).toBe('en');
    expect(pageLanguage('en;q=0, *;q=0.5')).toBe('zh-CN');
  });

  it('lets * stand for a language the browser did not name', () => {
    expect(pageLanguage('en;q=0.5, *;q=0.8')).toBe('zh-CN');
    expect(pageLanguage('zh;q=0.3, *;q=0.8')).toBe('en');
    expect(pageLanguage('*')).toBe('zh-CN');
  });

  it('skips malformed entries and weights instead of guessing', () => {
    expect(pageLanguage('en;q=2, zh;q=0.1')).toBe('zh-CN');
    expect(pageLanguage('en;q=abc')).toBe('zh-CN');
    expect(pageLanguage('en;q=0.5;q=0.9')).toBe('zh-CN');
    expect(pageLanguage('en;q=1.5')).toBe('zh-CN');
    expect(pageLanguage('<script>, en;q=0.5')).toBe('en');
    expect(pageLanguage('en_US')).toBe('zh-CN');
    expect(pageLanguage(',,;;,en ; q=0.5 ,')).toBe('en');
  });

  it('allows the extra weights RFC 9110 does (1.000, 0., three decimals)', () => {
    expect(pageLanguage('zh;q=0.999, en;q=1.000')).toBe('en');
    expect(pageLanguage('zh;q=0., en;q=0.001')).toBe('en');
    expect(pageLanguage('en;q=0.0001')).toBe('zh-CN');
  });
});

describe('isPhone (User-Agent)', () => {
  it.each([
    [
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47',
      true,
    ],
    [
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
      true,
    ],
    ['Mozilla/5.0 (Linux; Android 13; V2183A) MicroMessenger/8.0.40.2420(0x28002851)', true],
    [
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      false,
    ],
    [
      'Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36 NetType/WIFI MicroMessenger/7.0.20.1781(0x6700143B) WindowsWechat(0x63090a13)',
      false,
    ],
    [
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) MicroMessenger/6.8.0(0x16080000) MacWechat/3.8.7(0x13080710)',
      false,
    ],
    [undefined, false],
  ])('%s → %s', (userAgent, expected) => {
    expect(isPhone(userAgent)).toBe(expected);
  });
});
